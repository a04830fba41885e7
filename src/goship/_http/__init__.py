"""goship's HTTP/1.1 client (RFC 9112 message framing over :mod:`socket`), with what goship's clients (the
registry, Prometheus, canary webhooks, the local runtime's control and router APIs) need and no more:
keep-alive connections per origin, bodies from bytes or an iterator (chunked unless a ``Content-Length``
is given), redirects, proxies from the environment (``CONNECT`` tunnels for https) and TLS set up on the
first https request, so that talking to a registry or router on this machine costs no TLS at all.

Failures to get an answer raise, chained to the :mod:`socket` or :mod:`ssl` error behind them::

    HTTPError            no usable answer
    ├── NetworkError     connecting, sending or receiving failed (refused, reset, DNS, TLS verification)
    ├── TimedOutError    connecting, or one read or write, took longer than the client allows
    ├── ProtocolError    the server hung up before or inside its answer, or answered something not HTTP/1.x
    └── ProxyError       the proxy the environment names cannot be used (its scheme, a refused CONNECT)
"""

from __future__ import annotations

import os
import select
import socket
import threading
from collections.abc import Iterator, Mapping
from typing import IO, TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from goship import __version__
from goship._http.messages import (
    MAX_LINE,
    Headers,
    HTTPError,
    NetworkError,
    ProtocolError,
    ProxyError,
    Response,
    TimedOutError,
    merge_params,
    read_response,
)
from goship._http.proxy import Proxy, ProxyRules, is_loopback_name, tunnel

if TYPE_CHECKING:
    import ssl

__all__ = [
    "Client",
    "Content",
    "HTTPError",
    "Headers",
    "NetworkError",
    "ProtocolError",
    "ProxyError",
    "Response",
    "TimedOutError",
    "is_loopback_name",
    "merge_params",
]

Content = bytes | Iterator[bytes] | None
"""A request body: bytes (replayable), an iterator of blocks (sent once), or none."""

_PORTS = {"http": 80, "https": 443}
_SAFE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 20
_SEND_SLICE = 1 << 20
"""Bytes per socket write: the timeout bounds each write, so a big blob on a slow link does not time out."""
_DROPS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
"""How a connection the server closed shows when goship writes to or reads from it."""


class _Connection:
    """One TCP (perhaps TLS) connection; it carries one exchange at a time."""

    def __init__(self, sock: socket.socket, where: str) -> None:
        self.sock = sock
        self.reader: IO[bytes] = sock.makefile("rb")
        self.where = where
        """``host:port`` for messages."""
        self.served = 0
        """Exchanges completed on it."""

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            for start in range(0, len(view), _SEND_SLICE):
                self.sock.sendall(view[start : start + _SEND_SLICE])
        except OSError as exc:
            raise _SendError(exc) from exc

    def dropped(self) -> bool:
        """Whether the server closed it (or sent something unasked) while it sat idle."""
        try:
            if hasattr(select, "poll"):
                poller = select.poll()
                poller.register(self.sock, select.POLLIN)
                return bool(poller.poll(0))
            return bool(select.select([self.sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


class _SendError(Exception):
    """Writing to the socket failed with ``error``."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _Dropped(Exception):
    """A connection broke before any answer byte arrived; ``wrote`` says whether the request went out."""

    def __init__(self, wrote: bool, error: HTTPError) -> None:
        super().__init__(str(error))
        self.wrote = wrote
        self.error = error


class Client:
    """HTTP/1.1 requests with connections kept alive per origin (scheme, host, port); safe to share
    between threads, each request holding its connection alone. ``env`` is where proxies are read
    (``os.environ`` when omitted); ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` are honoured as Python's default
    TLS context does."""

    def __init__(
        self, *, timeout: float = 60.0, connect_timeout: float = 10.0, env: Mapping[str, str] | None = None
    ) -> None:
        self.timeout = timeout
        """Seconds one read or write may take."""
        self.connect_timeout = connect_timeout
        """Seconds connecting (and the TLS handshake) may take."""
        self._proxies = ProxyRules(os.environ if env is None else env)
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the idle connections; a later request opens new ones."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def proxy_for(self, url: str) -> str | None:
        """The proxy (``http://host:port``) a request to ``url`` goes through, ``None`` for direct."""
        scheme, host, port = _origin(url)
        proxy = self._proxies.proxy_for(scheme, host, port)
        return proxy.url if proxy else None

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: Content = None,
        follow_redirects: bool = False,
    ) -> Response:
        """One request (and, with ``follow_redirects``, the redirects it leads to). Across origins a
        redirect drops ``Authorization``; 303 (and 301/302 after ``POST``) turns into a bodiless ``GET``.
        After 20 redirects, or a 307/308 that would need an iterator body again, the redirect is returned."""
        method, sent = method.upper(), dict(headers or {})
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._send(method, url, sent, content)
            location = response.headers.get("location")
            if not follow_redirects or response.status_code not in _REDIRECTS or not location:
                return response
            target = urljoin(url, location)
            status = response.status_code
            try:
                _origin(target)
            except ValueError:
                return response  # a redirect to something other than http(s) is the caller's to read
            if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
                method, content = "GET", None
                sent = {
                    k: v for k, v in sent.items() if k.lower() not in ("content-length", "transfer-encoding")
                }
            elif content is not None and not isinstance(content, bytes):
                return response
            if _origin(target) != _origin(url) and not _https_upgrade(url, target):
                sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
            url = target
        return response

    # ----------------------------------------------------------------- one exchange

    def _send(self, method: str, url: str, headers: Mapping[str, str], content: Content) -> Response:
        origin = _origin(url)
        parts = urlsplit(url)
        proxy = self._proxies.proxy_for(*origin)
        netloc = parts.netloc.rpartition("@")[2]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        absolute = proxy is not None and origin[0] == "http"  # https goes through a tunnel instead
        head, chunked = _head(
            method,
            f"http://{netloc}{target}" if absolute else target,
            netloc,
            headers,
            content,
            proxy.authorization if absolute and proxy else None,
        )
        replayable = content is None or isinstance(content, bytes)
        for reuse in (True, False):
            conn = self._checkout(origin, proxy) if reuse else self._connect(origin, proxy)
            try:
                response, keep = self._exchange(conn, method, head, content, chunked, url)
            except _Dropped as dropped:
                conn.close()
                # A kept-alive connection the server closed as this request left: try once more on a new
                # one, unless the server may have acted on a request that changes something.
                if reuse and conn.served and replayable and (not dropped.wrote or method in _SAFE):
                    continue
                raise dropped.error from dropped.__cause__
            except BaseException:
                conn.close()
                raise
            if keep:
                conn.served += 1
                with self._lock:
                    self._idle.setdefault(origin, []).append(conn)
            else:
                conn.close()
            return response
        raise AssertionError("unreachable")

    def _checkout(self, origin: tuple[str, str, int], proxy: Proxy | None) -> _Connection:
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                conn = idle.pop() if idle else None
            if conn is None:
                return self._connect(origin, proxy)
            if not conn.dropped():
                return conn
            conn.close()

    def _connect(self, origin: tuple[str, str, int], proxy: Proxy | None) -> _Connection:
        scheme, host, port = origin
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        address = (proxy.host, proxy.port) if proxy else (host, port)
        via = f" through the proxy {proxy.url}" if proxy else ""
        try:
            sock = socket.create_connection(address, timeout=self.connect_timeout)
        except TimeoutError as exc:
            raise TimedOutError(f"connecting to {where}{via} took over {self.connect_timeout:g} s") from exc
        except OSError as exc:
            raise NetworkError(f"cannot connect to {where}{via}: {_reason(exc)}") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                if proxy is not None:
                    tunnel(sock, where, proxy)
                sock = self._tls_context().wrap_socket(sock, server_hostname=host)
            sock.settimeout(self.timeout)
        except TimeoutError as exc:
            sock.close()
            raise TimedOutError(
                f"setting up the connection to {where}{via} took over {self.connect_timeout:g} s"
            ) from exc
        except OSError as exc:
            sock.close()
            hint = ""
            if getattr(exc, "verify_message", None):
                hint = " (trust its CA in the system store, or point SSL_CERT_FILE at it)"
            raise NetworkError(f"cannot set up the connection to {where}{via}: {_reason(exc)}{hint}") from exc
        except BaseException:
            sock.close()
            raise
        return _Connection(sock, where)

    def _tls_context(self) -> ssl.SSLContext:
        with self._lock:
            if self._tls is None:
                import ssl  # only now: a registry on this machine speaks plain http and never pays for TLS

                self._tls = ssl.create_default_context()
                self._tls.set_alpn_protocols(["http/1.1"])
            return self._tls

    def _exchange(
        self, conn: _Connection, method: str, head: bytes, content: Content, chunked: bool, url: str
    ) -> tuple[Response, bool]:
        """Send a request and read its answer: ``(response, whether the connection may be reused)``."""
        wrote, write_error = False, None
        try:
            conn.send(head)
            wrote = True
            # An error of the body's own (a file that vanished) is not the network's: it passes as it is.
            for block in [content] if isinstance(content, bytes) else content or ():
                if block:
                    conn.send(b"%x\r\n%b\r\n" % (len(block), block) if chunked else block)
            if chunked:
                conn.send(b"0\r\n\r\n")
        except _SendError as failed:
            if isinstance(failed.error, TimeoutError):
                raise TimedOutError(
                    f"sending to {conn.where} stalled for {self.timeout:g} s"
                ) from failed.error
            if not isinstance(failed.error, _DROPS):
                raise NetworkError(
                    f"sending to {conn.where} failed: {_reason(failed.error)}"
                ) from failed.error
            write_error = failed.error  # the server may have answered before it hung up (a 401 mid-body)
        try:
            line = conn.reader.readline(MAX_LINE + 1)
        except TimeoutError as exc:
            raise TimedOutError(f"{conn.where} did not answer within {self.timeout:g} s") from exc
        except _DROPS as exc:
            error = NetworkError(f"{conn.where} reset the connection before answering: {_reason(exc)}")
            raise _Dropped(wrote, error) from exc
        except OSError as exc:
            raise NetworkError(f"reading from {conn.where} failed: {_reason(exc)}") from exc
        if not line:
            if write_error is not None:
                error = NetworkError(f"sending to {conn.where} failed: {_reason(write_error)}")
                raise _Dropped(wrote, error) from write_error
            raise _Dropped(wrote, ProtocolError(f"{conn.where} closed the connection without answering"))
        try:
            status, headers, body, keep = read_response(conn.reader, line, method)
        except TimeoutError as exc:
            raise TimedOutError(f"{conn.where} stopped answering for {self.timeout:g} s") from exc
        except OSError as exc:
            raise NetworkError(f"reading the answer from {conn.where} failed: {_reason(exc)}") from exc
        return Response(status, headers, body, url), keep and write_error is None


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    if scheme not in _PORTS or not parts.hostname or port == -1:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {url[:200]!r}")
    return scheme, parts.hostname, port or _PORTS[scheme]


def _https_upgrade(old: str, new: str) -> bool:
    (s1, h1, p1), (s2, h2, p2) = _origin(old), _origin(new)
    return (s1, p1, s2, p2) == ("http", 80, "https", 443) and h1 == h2


def _head(
    method: str,
    target: str,
    netloc: str,
    headers: Mapping[str, str],
    content: Content,
    proxy_authorization: str | None,
) -> tuple[bytes, bool]:
    """The request line and headers; ``True`` second when the body goes chunked."""
    given = {name.lower() for name in headers}
    lines = [f"{method} {target} HTTP/1.1"]
    lines += [f"Host: {netloc}"] if "host" not in given else []
    lines += ["Accept: */*"] if "accept" not in given else []
    lines += [f"User-Agent: goship/{__version__}"] if "user-agent" not in given else []
    chunked = False
    if "content-length" not in given and "transfer-encoding" not in given:
        if isinstance(content, bytes) or (content is None and method in ("POST", "PUT", "PATCH")):
            lines.append(f"Content-Length: {len(content or b'')}")
        elif content is not None:
            lines.append("Transfer-Encoding: chunked")
            chunked = True
    if proxy_authorization:
        lines.append(f"Proxy-Authorization: {proxy_authorization}")
    for name, value in headers.items():
        if any(c in name or c in str(value) for c in "\r\n\0") or not name or ":" in name:
            raise ValueError(f"the header {name[:40]!r} holds a line break, NUL or ':' in its name")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), chunked


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or exc.__class__.__name__
