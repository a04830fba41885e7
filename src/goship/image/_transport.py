"""How goship talks HTTP to a registry: requests carrying the host's credentials, retried with exponential
backoff on 429, 5xx and broken connections (honouring ``Retry-After``), refusals as :class:`RegistryError`."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

from goship import _http
from goship._backoff import Backoff
from goship.errors import RegistryError
from goship.image.auth import Authenticator

_RETRIED_STATUS = {429, 500, 502, 503, 504}
_BODY_SHOWN = 300
"""Characters of a non-JSON error body kept in a message: enough to read, too few to leak much."""

T = TypeVar("T")


REGISTRY_BACKOFF = Backoff(attempts=5, base_delay=0.5, max_delay=30.0)
"""For registries: 5 tries per request (or blob upload), waits doubling from 0.5 s, a ``Retry-After``
honoured up to 30 s."""


class _Transient(Exception):
    """A failure worth another try: 429, 5xx or a broken connection."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class RegistryTransport:
    """Requests to one registry host for :class:`goship.image.registry.Registry`: each one retried under
    ``retry``, and what the registry refused explained in a :class:`RegistryError`."""

    def __init__(
        self,
        host: str,
        base: str,
        *,
        client: _http.Client,
        auth: Authenticator,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        retry: Backoff,
    ) -> None:
        self.host = host
        self._base = base
        """``https://<host>``, or ``http://<host>`` for a registry on this machine."""
        self._client = client
        self._auth = auth
        self._sleep = sleep
        self._clock = clock
        self._retry = retry

    def url(self, path: str) -> str:
        return self._base + path

    def location(self, response: _http.Response, what: str) -> str:
        location = response.headers.get("location")
        if not location:
            raise RegistryError(
                f"registry {self.host} answered {what} with HTTP {response.status_code} but no Location, "
                "expected the upload session's URL"
            )
        return urljoin(response.url, location)

    def check_echo(self, response: _http.Response, digest: str, what: str) -> None:
        echoed = response.headers.get("docker-content-digest")
        if echoed and echoed != digest:
            raise RegistryError(
                f"registry {self.host} stored {what} as {echoed}, expected {digest}",
                hint="the registry or something between it and goship altered the content",
            )

    def refused(self, response: _http.Response, what: str) -> RegistryError:
        status = response.status_code
        errors = _error_json(response)
        said = "; ".join(errors) if errors else f"HTTP {status} {_shown(response)}".strip()
        hint = None
        if status == 401:
            creds = self._auth.credentials
            hint = (
                f"check the credentials for {self.host} ({creds.source or 'given to goship'})"
                if creds
                else f"no credentials for {self.host}: run 'docker login {self.host}' or configure a credential helper"
            )
            return RegistryError(
                f"registry {self.host} refused {what} ({self._auth.identity}): {said}", hint=hint
            )
        if status == 403:
            hint = f"the account ({self._auth.identity}) may lack permission for this repository"
        elif any(e.startswith(("MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN")) for e in errors):
            hint = "push every blob (layers and config) before the manifest that names them"
        return RegistryError(f"registry {self.host} refused {what}: {said}", hint=hint)

    def request(
        self,
        method: str,
        path: str,
        *,
        scopes: Sequence[str],
        what: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content: Callable[[], _http.Content] | None = None,
        follow_redirects: bool = False,
    ) -> _http.Response:
        """``path`` is a path on the registry (``/v2/…``) or a URL it gave (a ``Location``, a ``Link``)."""
        url = self.url(path) if path.startswith("/") else path
        if params:
            url = _http.merge_params(url, params)
        return self.with_retries(
            lambda: self.once(
                method,
                url,
                scopes=scopes,
                headers=headers,
                content=content,
                follow_redirects=follow_redirects,
            ),
            what,
        )

    def with_retries(self, attempt: Callable[[], T], what: str) -> T:
        policy = self._retry
        for n in range(1, policy.attempts + 1):
            try:
                return attempt()
            except _Transient as exc:
                if n == policy.attempts:
                    raise RegistryError(
                        f"registry {self.host} kept failing {what}: {exc.reason} "
                        f"(gave up after {policy.attempts} attempts)",
                        hint="the registry or the network is unwell; try again later",
                    ) from exc
                self._sleep(policy.delay(n, exc.retry_after))
        raise AssertionError("unreachable: Backoff.attempts must be at least 1")

    def once(
        self,
        method: str,
        url: str,
        *,
        scopes: Sequence[str],
        headers: Mapping[str, str] | None = None,
        content: Callable[[], _http.Content] | None = None,
        follow_redirects: bool = False,
    ) -> _http.Response:
        """One request, plus one more when a 401 taught the authenticator something; raises
        :class:`_Transient` for what deserves another try."""
        parts = urlsplit(url)
        for authenticated_retry in (False, True):
            request_headers = dict(headers or {})
            # Credentials go to the registry's own host only, never to storage a Location points at.
            if parts.netloc == self.host:
                authorization = self._auth.authorization(scopes)
                if authorization:
                    request_headers["Authorization"] = authorization
            try:
                response = self._client.request(
                    method,
                    url,
                    headers=request_headers,
                    content=content() if content else None,
                    follow_redirects=follow_redirects,
                )
            except (_http.TimedOutError, _http.NetworkError, _http.ProtocolError) as exc:
                raise _Transient(f"{method} {parts.path}: {exc.__class__.__name__}: {exc}"[:300]) from exc
            except _http.ProxyError as exc:
                raise RegistryError(
                    f"cannot reach registry {self.host}: {exc}",
                    hint="check HTTPS_PROXY, HTTP_PROXY and NO_PROXY (loopback hosts never go through a proxy)",
                ) from exc
            if response.status_code in _RETRIED_STATUS:
                errors = _error_json(response)
                raise _Transient(
                    f"{method} {parts.path}: HTTP {response.status_code}"
                    + (f" ({'; '.join(errors)})" if errors else ""),
                    _retry_after(response.headers.get("retry-after"), self._clock),
                )
            if response.status_code != 401 or authenticated_retry:
                return response
            if not self._auth.on_unauthorized(response, scopes):
                return response
        raise AssertionError("unreachable")


def _json_or_empty(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _error_json(response: _http.Response) -> list[str]:
    """``CODE: message (detail)`` for each entry of the spec's ``{"errors": [...]}`` body."""
    shown = []
    for error in _json_or_empty(response.content).get("errors") or []:
        if not isinstance(error, dict):
            continue
        line = f"{error.get('code', 'UNKNOWN')}: {error.get('message', '')}".rstrip(": ")
        detail = error.get("detail")
        if detail:
            line += f" ({json.dumps(detail, separators=(',', ':'))[:_BODY_SHOWN]})"
        shown.append(line)
    return shown


def _shown(response: _http.Response) -> str:
    text = response.content[:_BODY_SHOWN].decode("utf-8", "replace").strip()
    return " ".join(text.split()) + ("…" if len(response.content) > _BODY_SHOWN else "")


def _retry_after(value: str | None, clock: Callable[[], float]) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils  # only for this rare form: the email package is slow to import

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - clock())
