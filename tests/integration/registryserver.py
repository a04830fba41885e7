"""Real registries for the publish tests: the Debian ``docker-registry`` (distribution 2.8) on a free
loopback port with temporary storage, without auth, with htpasswd Basic auth, or with token auth
backed by a small token server in this process that signs JWTs the way distribution's token spec
describes (RS256, the signing certificate in the ``x5c`` header, trusted through ``rootcertbundle``).

Also :class:`FaultProxy`, the one stand-in: a loopback HTTP proxy in front of the real registry that
fails the Nth matching request (500, 429 with Retry-After, or a connection dropped mid-body), which
the real registry cannot be made to do on demand.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

import httpx

SERVICE = "goship-test-registry"
ISSUER = "goship-test-issuer"
USERNAME = "ada"
PASSWORD = "s3cret-Pa55word-never-shown"


def require(program: str) -> str:
    """The path of ``program``; a missing one fails the test (``make test`` installs it), never skips."""
    path = shutil.which(program)
    if path is None:
        raise RuntimeError(f"{program} is not on PATH; run 'make test' (scripts/bootstrap installs it)")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# ----------------------------------------------------------------------------- token server


@dataclass(frozen=True)
class TokenRequest:
    """One request the token server answered."""

    user: str | None
    """The Basic-auth user, ``None`` for anonymous."""
    scopes: tuple[str, ...]
    """The ``scope`` parameters, in order."""
    grant: str
    """``basic`` (GET) or ``refresh_token`` (the POST of an identity token)."""


class TokenServer:
    """Issues registry tokens: any requested action to a known user, ``pull`` only to anonymous callers.

    ``field`` picks the JSON name of the token in answers (``token``, ``access_token`` or both)."""

    def __init__(self, workdir: Path, users: dict[str, str], refresh_tokens: dict[str, str]) -> None:
        self.users = users
        self.refresh_tokens = refresh_tokens
        self.field: Literal["token", "access_token", "both"] = "both"
        self.requests: list[TokenRequest] = []
        self.key = workdir / "token.key"
        self.cert = workdir / "token.crt"
        subprocess.run(
            [
                *(require("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
                *("-subj", "/CN=goship test token issuer", "-keyout", str(self.key), "-out", str(self.cert)),
            ],
            check=True,
            capture_output=True,
        )
        pem = self.cert.read_text()
        # x5c wants base64 DER, which is what a PEM body is, line breaks removed.
        self._x5c = "".join(pem.split("-----")[2].split())
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.realm = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sign(self, subject: str, scopes: list[str]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        now = int(time.time())
        access = []
        for s in scopes:
            kind, _, rest = s.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]})
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 5,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(
            [require("openssl"), "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(),
            check=True,
            capture_output=True,
        ).stdout
        return f"{signing_input}.{_b64url(signature)}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                scopes = query.get("scope", [])
                user = None
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    name, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    if server.users.get(name) != password:
                        return self._answer(401, {"details": "wrong user name or password"})
                    user = name
                server.requests.append(TokenRequest(user, tuple(scopes), "basic"))
                self._issue(user, scopes)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                user = server.refresh_tokens.get(form.get("refresh_token", ""))
                if form.get("grant_type") != "refresh_token" or user is None:
                    return self._answer(401, {"error": "invalid_grant"})
                scopes = form.get("scope", "").split()
                server.requests.append(TokenRequest(user, tuple(scopes), "refresh_token"))
                self._issue(user, scopes)

            def _issue(self, user: str | None, scopes: list[str]) -> None:
                if user is None:
                    # Anonymous callers may only pull.
                    scopes = [
                        s.rsplit(":", 1)[0] + ":pull"
                        for s in scopes
                        if "pull" in s.rsplit(":", 1)[-1].split(",")
                    ]
                token = server.sign(user or "", scopes)
                body: dict[str, object] = {"expires_in": 300}
                if server.field in ("token", "both"):
                    body["token"] = token
                if server.field in ("access_token", "both"):
                    body["access_token"] = token
                self._answer(200, body)

            def _answer(self, status: int, body: dict[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


# ----------------------------------------------------------------------------- the registry


@dataclass
class RunningRegistry:
    """A started ``docker-registry`` and what a test needs to talk to it."""

    host: str
    """``127.0.0.1:<port>``."""
    root: Path
    """Its storage directory."""
    log: Path
    """Its stderr (the registry logs there), for failure messages."""
    username: str = ""
    """The one user, with Basic or token auth."""
    password: str = ""
    """That user's password."""
    token_server: TokenServer | None = None
    """The token server, with token auth."""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    """The registry process."""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.token_server is not None:
            self.token_server.stop()


def start_registry(workdir: Path, auth: Literal["none", "basic", "token"] = "none") -> RunningRegistry:
    """Start a registry with storage under ``workdir``; returns once ``/v2/`` answers."""
    program = require("docker-registry")
    workdir.mkdir(parents=True, exist_ok=True)
    running = RunningRegistry(host="", root=workdir / "storage", log=workdir / "registry.log")
    auth_config = ""
    if auth == "basic":
        line = subprocess.run(
            [require("htpasswd"), "-Bbn", USERNAME, PASSWORD], check=True, capture_output=True, text=True
        ).stdout.strip()
        (workdir / "htpasswd").write_text(line + "\n")
        auth_config = f"auth:\n  htpasswd:\n    realm: goship-test\n    path: {workdir / 'htpasswd'}\n"
        running.username, running.password = USERNAME, PASSWORD
    elif auth == "token":
        running.token_server = TokenServer(workdir, {USERNAME: PASSWORD}, {"refresh-" + USERNAME: USERNAME})
        auth_config = (
            f"auth:\n  token:\n    realm: {running.token_server.realm}\n    service: {SERVICE}\n"
            f"    issuer: {ISSUER}\n    rootcertbundle: {running.token_server.cert}\n"
        )
        running.username, running.password = USERNAME, PASSWORD
    for _ in range(5):  # another process may take the free port between our look and the registry's bind
        port = free_port()
        config = workdir / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: info\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {running.root}\n  delete:\n    enabled: true\n"
            "  maintenance:\n    uploadpurging:\n      enabled: false\n"
            f"http:\n  addr: 127.0.0.1:{port}\n  secret: {secrets.token_hex(16)}\n" + auth_config
        )
        with running.log.open("ab") as log:
            running.process = subprocess.Popen([program, "serve", str(config)], stdout=log, stderr=log)
        running.host = f"127.0.0.1:{port}"
        if _wait_until_up(running):
            return running
        running.stop()
    raise RuntimeError(f"docker-registry did not start; its log:\n{running.log.read_text()[-3000:]}")


def wait_until_serving(process: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float) -> bool:
    """Whether ``ready()`` said yes before ``timeout`` seconds passed or ``process`` exited (a connection
    refused meanwhile is "not yet")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if ready():
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return False


def _wait_until_up(running: RunningRegistry) -> bool:
    assert running.process is not None
    return wait_until_serving(
        running.process,
        lambda: httpx.get(f"http://{running.host}/v2/", timeout=1).status_code in (200, 401),
        timeout=15,
    )


@contextmanager
def registry_running(
    workdir: Path, auth: Literal["none", "basic", "token"] = "none"
) -> Iterator[RunningRegistry]:
    running = start_registry(workdir, auth)
    try:
        yield running
    finally:
        running.stop()


# ----------------------------------------------------------------------------- fault injection


@dataclass
class Fault:
    """Fail the ``nth`` request (1-based) whose method and path match."""

    method: str
    """``GET``, ``PATCH`` …"""
    path: str
    """A regular expression searched for in the request path (with query)."""
    nth: int
    """Which matching request fails; the others pass through."""
    action: Literal["status", "drop"]
    """Answer ``status`` instead of forwarding, or forward half the body and then cut both connections."""
    status: int = 500
    """The status for ``action="status"``."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers (``Retry-After``)."""
    seen: int = 0
    """Matching requests so far."""


@dataclass(frozen=True)
class Seen:
    """One request through the proxy."""

    method: str
    path: str
    status: int | None
    """What the client got; ``None`` for a dropped connection."""


class FaultProxy:
    """A loopback HTTP proxy in front of ``upstream`` that passes everything through except the
    :class:`Fault` s it was given; shut down with :meth:`stop` (its threads are daemons)."""

    def __init__(self, upstream: str, faults: list[Fault] | None = None) -> None:
        self.upstream = upstream
        self.faults = faults or []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _fault_for(self, method: str, path: str) -> Fault | None:
        firing = None
        with self._lock:
            # Every fault counts every match, so faults for the 1st, 2nd and 3rd request can be stacked.
            for fault in self.faults:
                if fault.method == method and re.search(fault.path, path):
                    fault.seen += 1
                    if fault.seen == fault.nth and firing is None:
                        firing = fault
        return firing

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        data += self.rfile.read(size)
                        self.rfile.readline()
                    self.rfile.readline()
                    return data
                return self.rfile.read(int(self.headers.get("Content-Length", "0")))

            def _relay(self) -> None:
                fault = proxy._fault_for(self.command, self.path)
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("transfer-encoding", "connection")
                }
                if fault is not None and fault.action == "drop":
                    return self._drop(headers)
                body = self._body()
                if fault is not None:
                    proxy.seen.append(Seen(self.command, self.path, fault.status))
                    return self._send(
                        fault.status,
                        fault.headers,
                        b'{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}',
                    )
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=30)
                headers["Content-Length"] = str(len(body))
                # Host stays ours, so the registry's Location headers lead back through the proxy.
                upstream.request(
                    self.command,
                    self.path,
                    body=body if body or self.command != "GET" else None,
                    headers=headers,
                )
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                proxy.seen.append(Seen(self.command, self.path, answer.status))
                passed = {
                    k: v
                    for k, v in answer.getheaders()
                    if k.lower() not in ("transfer-encoding", "connection", "content-length")
                }
                self._send(
                    answer.status,
                    passed,
                    b"" if self.command == "HEAD" else data,
                    length=answer.getheader("Content-Length"),
                )

            def _drop(self, headers: dict[str, str]) -> None:
                # Forward half of the body with the full Content-Length, then cut both sides: the
                # registry sees a client that vanished mid-upload, the client a connection reset.
                length = int(self.headers.get("Content-Length", "0"))
                half = self.rfile.read(length // 2)
                host, port = proxy.upstream.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)))
                head = (
                    f"{self.command} {self.path} HTTP/1.1\r\n"
                    + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                    + "\r\n"
                )
                upstream.sendall(head.encode() + half)
                time.sleep(0.2)
                upstream.close()
                proxy.seen.append(Seen(self.command, self.path, None))
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def _send(
                self, status: int, headers: dict[str, str], body: bytes, length: str | None = None
            ) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header(
                    "Content-Length", length if self.command == "HEAD" and length else str(len(body))
                )
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

        return Handler
