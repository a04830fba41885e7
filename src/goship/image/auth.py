"""Who goship is at a registry, and how it proves it: Docker's ``config.json`` and the docker
credential-helper protocol for finding credentials, then HTTP Basic or the Bearer token flow of the
distribution token spec (``WWW-Authenticate: Bearer realm=…,service=…,scope=…``), as OCI distribution
spec v1.1 registries use them.

Secrets stay inside :class:`Credentials` and :class:`Authenticator`: no repr, str or error message
carries a password, identity token or access token.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import SplitResult, urlencode, urlsplit

from goship import _http
from goship.errors import RegistryError

if TYPE_CHECKING:
    from goship import _proc

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
"""The key Docker files Docker Hub credentials under, whatever name the image used."""
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io"}
_TOKEN_MARGIN = 10.0
"""Seconds before a token's stated expiry at which it is no longer used, so it never expires in flight."""
_DEFAULT_TOKEN_LIFETIME = 60.0
"""The token spec's lifetime for a token whose response names none."""


class Runner(Protocol):
    """Starts a program (``goship._proc.run`` or a stand-in with the same shape)."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
    ) -> _proc.Completed: ...


@dataclass(frozen=True, repr=False)
class Credentials:
    """What goship presents to one registry; repr and str show the user name and source only."""

    username: str = ""
    """The user for Basic auth and for the token server; empty when only an identity token is known."""
    password: str = ""
    """The password or access token that goes with ``username``."""
    identity_token: str = ""
    """An OAuth2 refresh token (Docker's ``identitytoken``), traded at the token server for access tokens."""
    source: str = ""
    """Where these came from, for messages: a config.json path or a ``docker-credential-…`` program."""

    @property
    def who(self) -> str:
        """How messages name the identity: ``user 'ada'`` or ``an identity token``."""
        return f"user {self.username!r}" if self.username else "an identity token"

    def __repr__(self) -> str:
        secret = "identity_token=<hidden>" if self.identity_token else "password=<hidden>"
        return f"Credentials(username={self.username!r}, {secret}, source={self.source!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class DockerConfig:
    """The parts of Docker's ``config.json`` that say where credentials live."""

    path: Path
    """The file read (it need not exist)."""
    auths: Mapping[str, Credentials] = field(default_factory=dict)
    """Credentials written into the file, by normalised registry host."""
    cred_helpers: Mapping[str, str] = field(default_factory=dict)
    """Registry host → helper suffix: ``{"ghcr.io": "pass"}`` runs ``docker-credential-pass``."""
    creds_store: str = ""
    """The helper for every host without its own entry in ``cred_helpers``; empty when unset."""


@dataclass(frozen=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header (RFC 7235)."""

    scheme: str
    """The auth scheme, lower-cased: ``bearer`` or ``basic``."""
    params: Mapping[str, str]
    """Its parameters with lower-cased names and unquoted values (``realm``, ``service``, ``scope``)."""


def docker_config_path(env: Mapping[str, str]) -> Path:
    """``$DOCKER_CONFIG/config.json`` when set, else ``~/.docker/config.json``."""
    base = env.get("DOCKER_CONFIG")
    if base:
        return Path(base) / "config.json"
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".docker" / "config.json"


def registry_key(name: str) -> str:
    """The host a config.json key or image reference names: scheme and path dropped, Hub aliases merged."""
    host = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", name.strip()).split("/", 1)[0].lower()
    return "index.docker.io" if host in _HUB_ALIASES else host


def load_docker_config(path: Path) -> DockerConfig:
    """Read ``path``; a missing file is an empty config, a broken one a :class:`RegistryError`."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DockerConfig(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(
            f"cannot read the Docker config {path}: expected a JSON object ({exc.__class__.__name__})",
            hint="fix or move the file; goship reads it only to find registry credentials",
        ) from exc
    if not isinstance(raw, dict):
        raise RegistryError(f"the Docker config {path} holds {type(raw).__name__}, expected a JSON object")
    auths: dict[str, Credentials] = {}
    for key, entry in (raw.get("auths") or {}).items():
        if isinstance(entry, dict):
            creds = _auth_entry(key, entry, path)
            if creds is not None:
                auths[registry_key(key)] = creds
    helpers = {registry_key(k): str(v) for k, v in (raw.get("credHelpers") or {}).items() if v}
    return DockerConfig(path, auths, helpers, str(raw.get("credsStore") or ""))


def _auth_entry(key: str, entry: Mapping[str, object], path: Path) -> Credentials | None:
    username = str(entry.get("username") or "")
    password = str(entry.get("password") or "")
    encoded = str(entry.get("auth") or "")
    if encoded:
        try:
            username, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            # The value is a secret: the message names the entry, never its content.
            raise RegistryError(
                f"the Docker config {path}: auths[{key!r}].auth is not base64 of 'user:password'",
                hint=f"log in again with 'docker login {registry_key(key)}'",
            ) from exc
        if not sep:
            raise RegistryError(
                f"the Docker config {path}: auths[{key!r}].auth decodes without a ':' between user and password",
                hint=f"log in again with 'docker login {registry_key(key)}'",
            )
    identity = str(entry.get("identitytoken") or "")
    if not (username or password or identity):
        return None  # an empty entry only says "logged in through credsStore"
    return Credentials(username, password, identity, source=str(path))


def credentials_for(
    host: str,
    *,
    env: Mapping[str, str] | None = None,
    config: DockerConfig | None = None,
    run: Runner | None = None,
) -> Credentials | None:
    """Credentials for ``host`` the way Docker finds them: its ``credHelpers`` entry, else ``credsStore``,
    else the ``auths`` entry; ``None`` means anonymous. Helpers are started with ``run``
    (``goship._proc.run`` when omitted)."""
    env = os.environ if env is None else env
    config = config if config is not None else load_docker_config(docker_config_path(env))
    key = registry_key(host)
    helper = config.cred_helpers.get(key) or config.creds_store
    if helper:
        if run is None:
            from goship import _proc  # only with a helper: most hosts need no process started

            run = _proc.run
        found = _ask_helper(helper, DOCKER_HUB_KEY if key == "index.docker.io" else host, env, run)
        if found is not None:
            return found
    return config.auths.get(key)


def _ask_helper(name: str, server: str, env: Mapping[str, str], run: Runner) -> Credentials | None:
    import tempfile

    program = f"docker-credential-{name}"
    try:
        done = run([program, "get"], cwd=Path(tempfile.gettempdir()), env=dict(env), input=server)
    except OSError as exc:
        raise RegistryError(
            f"the Docker config names the credential helper {program} for {server}, but it cannot be run ({exc.strerror})",
            hint=f"install {program} or remove it from credHelpers/credsStore in the Docker config",
        ) from exc
    if not done.ok:
        # The protocol's "not found" answer means anonymous access, not a failure.
        if "credentials not found" in (done.stdout + done.stderr).lower():
            return None
        said = (done.stderr or done.stdout).strip().splitlines()
        raise RegistryError(
            f"{program} get failed for {server} (exit {done.returncode}): {said[0][:200] if said else 'no output'}",
            hint=f"run 'echo {server} | {program} get' to see what the helper says",
        )
    try:
        answer = json.loads(done.stdout)
        username, secret = str(answer["Username"]), str(answer["Secret"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise RegistryError(
            f"{program} get answered for {server} with something other than the expected JSON "
            '{"Username": …, "Secret": …}',
            hint=f"check that {program} implements the docker credential-helper protocol",
        ) from exc
    if username == "<token>":
        # The helper protocol's spelling for "Secret is an identity (refresh) token".
        return Credentials(identity_token=secret, source=program)
    return Credentials(username, secret, source=program)


_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# Bare values should be tokens, but registries send unquoted URLs too: accept up to the next comma.
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))\s*')
_SCHEME = re.compile(rf"[\s,]*({_TOKEN})(?:\s+|$)")


def parse_www_authenticate(value: str) -> list[Challenge]:
    """Every challenge in a ``WWW-Authenticate`` value; quoted values may hold commas (``scope="…:pull,push"``)."""
    challenges: list[Challenge] = []
    pos = 0
    while pos < len(value):
        m = _SCHEME.match(value, pos)
        if not m:
            break
        scheme, pos = m.group(1).lower(), m.end()
        params: dict[str, str] = {}
        while (p := _PARAM.match(value, pos)) is not None:
            quoted, bare = p.group(2), p.group(3)
            params[p.group(1).lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
            pos = p.end()
            if pos < len(value) and value[pos] == ",":
                pos += 1
            else:
                break
        challenges.append(Challenge(scheme, params))
    return challenges


def scope(repo: str, *actions: str) -> str:
    """A token-spec scope: ``repository:team/orders:pull,push``."""
    return f"repository:{repo}:{','.join(actions)}"


def _grants(scopes: Sequence[str]) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = {}
    for s in scopes:
        resource, _, actions = s.rpartition(":")
        granted.setdefault(resource or s, set()).update(a for a in actions.split(",") if a)
    return granted


def _covers(have: Sequence[str], want: Sequence[str]) -> bool:
    had = _grants(have)
    return all(actions <= had.get(res, set()) for res, actions in _grants(want).items())


def is_loopback(host: str) -> bool:
    """Whether ``host`` (``name``, ``name:port`` or ``[v6]:port``) is this machine."""
    if host.startswith("["):
        name = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        name = host.split(":", 1)[0]
    else:
        name = host  # a bare name, or an IPv6 address without brackets or port
    return _http.is_loopback_name(name)


@dataclass
class _Token:
    scopes: tuple[str, ...]
    value: str
    expires_at: float


class Authenticator:
    """Authorization for one registry host: learns the scheme from the registry's first 401, then
    sends Basic credentials, or Bearer tokens fetched from the token server and cached per scope."""

    def __init__(
        self,
        host: str,
        credentials: Credentials | None,
        *,
        client: _http.Client,
        clock: Callable[[], float],
    ) -> None:
        self.host = host
        self.credentials = credentials
        self._client = client
        self._clock = clock
        self._challenge: Challenge | None = None
        self._tokens: list[_Token] = []

    def __repr__(self) -> str:
        return f"Authenticator(host={self.host!r}, credentials={self.credentials!r})"

    @property
    def identity(self) -> str:
        """How messages name who asked: ``as user 'ada'`` or ``without credentials``."""
        return f"as {self.credentials.who}" if self.credentials else "without credentials"

    @property
    def has_basic(self) -> bool:
        return self.credentials is not None and bool(self.credentials.username or self.credentials.password)

    def authorization(self, scopes: Sequence[str]) -> str | None:
        """The ``Authorization`` value for a request that needs ``scopes``, once the scheme is known."""
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return self._basic() if self.has_basic else None
        now = self._clock()
        for token in self._tokens:
            if token.expires_at > now and _covers(token.scopes, scopes):
                return f"Bearer {token.value}"
        return f"Bearer {self._fetch_token(challenge, scopes).value}"

    def on_unauthorized(self, response: _http.Response, scopes: Sequence[str]) -> bool:
        """Learn from a 401; ``True`` when a retry with fresh authorization may succeed."""
        challenges = parse_www_authenticate(response.headers.get("www-authenticate", ""))
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        if bearer is not None:
            self._challenge = bearer
            # The registry may ask for more than we did (insufficient_scope): ask for both at once.
            wanted = list(dict.fromkeys([*scopes, *bearer.params.get("scope", "").split()]))
            now = self._clock()
            self._tokens = [t for t in self._tokens if t.expires_at > now and not _covers(t.scopes, scopes)]
            self._fetch_token(bearer, wanted)
            return True
        if basic is not None:
            self._challenge = basic
            return self.has_basic
        return False

    def _basic(self) -> str:
        assert self.credentials is not None
        pair = f"{self.credentials.username}:{self.credentials.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def _fetch_token(self, challenge: Challenge, scopes: Sequence[str]) -> _Token:
        realm = challenge.params.get("realm", "")
        url = _token_server(realm)
        if url is None:
            raise RegistryError(
                f"registry {self.host} asked for a Bearer token but named no usable token server (realm={realm[:100]!r})"
            )
        if url.scheme != "https" and not (url.scheme == "http" and is_loopback(url.netloc)):
            raise RegistryError(
                f"registry {self.host} sends goship to the token server {realm[:100]}, expected an https:// URL",
                hint="goship only talks plain http to token servers on this machine (loopback)",
            )
        server = url.hostname
        service = {"service": challenge.params["service"]} if "service" in challenge.params else {}
        creds = self.credentials
        try:
            if creds is not None and creds.identity_token:
                # OAuth2 refresh-token grant, as Docker does for identity tokens.
                form = service | {"grant_type": "refresh_token", "refresh_token": creds.identity_token}
                form |= {"client_id": "goship", "scope": " ".join(scopes)}
                response = self._client.request(
                    "POST",
                    realm,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                    content=urlencode(form).encode(),
                )
            else:
                query = [*service.items(), *(("scope", s) for s in scopes)]
                headers = {"Authorization": self._basic()} if self.has_basic else {}
                response = self._client.request("GET", _http.merge_params(realm, query), headers=headers)
        except _http.HTTPError as exc:
            raise RegistryError(
                f"the token server {server} for registry {self.host} did not answer ({exc.__class__.__name__})",
                hint="check the network, or whether the token server is up",
            ) from exc
        what = " ".join(scopes) or "registry access"
        if response.status_code in (401, 403):
            raise RegistryError(
                f"the token server {server} for registry {self.host} refused a token for {what} "
                f"({self.identity}): HTTP {response.status_code}",
                hint=f"check the credentials for {self.host} ('docker login {self.host}')",
            )
        if response.status_code != 200:
            raise RegistryError(
                f"the token server {server} for registry {self.host} answered HTTP {response.status_code} "
                f"for {what}, expected 200 with a token",
            )
        try:
            answer = response.json()
            value = str(answer.get("token") or answer.get("access_token") or "")
            lifetime = float(answer.get("expires_in") or _DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError) as exc:
            raise RegistryError(
                f"the token server {server} for registry {self.host} answered without JSON, "
                'expected {"token": …, "expires_in": …}'
            ) from exc
        if not value:
            raise RegistryError(
                f"the token server {server} for registry {self.host} answered without a token, "
                "expected a 'token' or 'access_token' field"
            )
        token = _Token(tuple(scopes), value, self._clock() + max(lifetime - _TOKEN_MARGIN, 1.0))
        self._tokens.append(token)
        return token


def _token_server(realm: str) -> SplitResult | None:
    """The parts of a ``realm`` URL, or ``None`` when it names no host one could connect to."""
    try:
        url = urlsplit(realm)
        url.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        return None
    return url if url.hostname or url.scheme not in ("http", "https") else None
