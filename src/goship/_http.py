"""goship's HTTP/1.1 client (RFC 9112 message framing over :mod:`socket`), with what the registry client
needs and no more: keep-alive connections per origin, bodies from bytes or an iterator (chunked unless a
``Content-Length`` is given), redirects, proxies from the environment (``CONNECT`` tunnels for https) and
TLS set up on the first https request, so that talking to a registry on this machine costs no TLS at all.

Failures to get an answer raise, chained to the :mod:`socket` or :mod:`ssl` error behind them::

    HTTPError            no usable answer
    ├── NetworkError     connecting, sending or receiving failed (refused, reset, DNS, TLS verification)
    ├── TimedOutError    connecting, or one read or write, took longer than the client allows
    ├── ProtocolError    the server hung up before or inside its answer, or answered something not HTTP/1.x
    └── ProxyError       the proxy the environment names cannot be used (its scheme, a refused CONNECT)
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import re
import select
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, unquote_plus, urlencode, urljoin, urlsplit

from goship import __version__

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
_MAX_LINE = 65536
_MAX_HEADERS = 100
_SEND_SLICE = 1 << 20
"""Bytes per socket write: the timeout bounds each write, so a big blob on a slow link does not time out."""
_DROPS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
"""How a connection the server closed shows when goship writes to or reads from it."""


class HTTPError(Exception):
    """A request got no usable answer."""


class NetworkError(HTTPError):
    """Connecting, sending or receiving failed."""


class TimedOutError(HTTPError):
    """Connecting, or one read or write, took longer than the client's timeout."""


class ProtocolError(HTTPError):
    """The server hung up before or inside its answer, or answered something that is not HTTP/1.x."""


class ProxyError(HTTPError):
    """The proxy named by the environment cannot be used."""


class Headers(Mapping[str, str]):
    """Response headers: names match without regard to case; a repeated header reads as its values
    joined by ``", "`` (so two ``WWW-Authenticate`` headers read as one list of challenges)."""

    def __init__(self, items: Sequence[tuple[str, str]] = ()) -> None:
        self._values: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            self._values[key] = f"{self._values[key]}, {value}" if key in self._values else value

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({sorted(self._values)})"  # names only: values may be tokens


@dataclass(frozen=True)
class Response:
    """An answer, its body read in full."""

    status_code: int
    """The HTTP status."""
    headers: Headers
    """Its headers."""
    content: bytes
    """The body (empty for ``HEAD``, 204 and 304)."""
    url: str
    """The URL that answered (the last one after redirects); ``Location`` and ``Link`` are relative to it."""

    def json(self) -> Any:
        """The body parsed as JSON; raises :class:`ValueError` when it is not JSON."""
        return json.loads(self.content)

    @property
    def links(self) -> dict[str, str]:
        """``Link`` targets by relation (RFC 8288), as written: ``{"next": "/v2/_catalog?last=a&n=2"}``."""
        found: dict[str, str] = {}
        for target in re.finditer(r"<([^>]*)>([^<]*)", self.headers.get("link", "")):
            rel = re.search(r';\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))', target.group(2), re.IGNORECASE)
            for name in (rel.group(1) or rel.group(2)).split() if rel else ():
                found.setdefault(name.lower(), target.group(1).strip())
        return found


def merge_params(url: str, params: Mapping[str, str] | Sequence[tuple[str, str]]) -> str:
    """``url`` with ``params`` in its query: a name given here replaces that name's values in ``url``;
    the rest of the query stays as written (a registry's opaque upload ``_state`` must come back as sent)."""
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    if not pairs:
        return url
    parts = urlsplit(url)
    names = {name for name, _ in pairs}
    kept = [p for p in parts.query.split("&") if p and unquote_plus(p.split("=", 1)[0]) not in names]
    return parts._replace(query="&".join([*kept, urlencode(pairs)])).geturl()


def is_loopback_name(name: str) -> bool:
    """Whether a host name or address (no port, no brackets) is this machine."""
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class _Proxy:
    host: str
    port: int
    authorization: str | None
    """``Proxy-Authorization`` from the user and password in the proxy's URL."""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class _ProxyRules:
    """Which proxy a URL goes through, read from the environment the way curl and Python's urllib read
    it: lower-case names before upper-case, ``ALL_PROXY`` as the fallback, and ``NO_PROXY`` entries as
    names with their subdomains (``example.com``, ``.example.com``, ``*.example.com``), optionally with a
    port, addresses or networks (``10.0.0.0/8``), or ``*``. Loopback hosts are never proxied."""

    def __init__(self, env: Mapping[str, str]) -> None:
        found: dict[str, tuple[str, str]] = {}
        for name, value in env.items():
            if value and name.lower().endswith("_proxy"):
                found[name[:-6].lower()] = (name, value)
        for name, value in env.items():  # a lower-case name wins, and an empty one unsets
            if name.islower() and name.endswith("_proxy"):
                if value:
                    found[name[:-6]] = (name, value)
                else:
                    found.pop(name[:-6], None)
        if "REQUEST_METHOD" in env:
            found.pop("http", None)  # under CGI, HTTP_PROXY is a request header (httpoxy)
        self._vars = {
            scheme: found.get(scheme) or found.get("all") or ("", "") for scheme in ("http", "https")
        }
        self._parsed: dict[str, _Proxy | None] = {}
        self._bypass_all = False
        self._names: list[tuple[str, int | None]] = []
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in (found.get("no") or ("", ""))[1].lower().split(","):
            self._add_no_proxy(entry.strip())

    def _add_no_proxy(self, entry: str) -> None:
        if entry == "*":
            self._bypass_all = True
            return
        name, port = entry, ""
        if entry.startswith("["):
            name, _, rest = entry[1:].partition("]")
            port = rest[1:]
        elif entry.count(":") == 1:
            name, port = entry.split(":")
        if "/" in name:
            with contextlib.suppress(ValueError):
                self._networks.append(ipaddress.ip_network(name, strict=False))
            return
        name = name.lstrip("*").lstrip(".")
        if name and (not port or _digits(port)):
            self._names.append((name, int(port) if port else None))

    def proxy_for(self, scheme: str, host: str, port: int) -> _Proxy | None:
        if self._bypass_all or is_loopback_name(host) or not self._vars[scheme][1]:
            return None
        host = host.lower()
        for name, only_port in self._names:
            if (host == name or host.endswith("." + name)) and only_port in (None, port):
                return None
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            if any(address in net for net in self._networks):
                return None
        if scheme not in self._parsed:
            self._parsed[scheme] = self._parse(*self._vars[scheme])
        return self._parsed[scheme]

    @staticmethod
    def _parse(var: str, value: str) -> _Proxy:
        parts = urlsplit(value if "://" in value else f"http://{value}")
        try:
            port = parts.port or 80
        except ValueError:
            port = 0
        if parts.scheme.lower() != "http" or not parts.hostname or not port:
            shown = f"{parts.scheme}://{parts.hostname or ''}" + (f":{port}" if port else "")
            raise ProxyError(f"{var} names the proxy {shown}, expected http://host:port (an HTTP proxy)")
        authorization = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            authorization = "Basic " + base64.b64encode(pair).decode("ascii")
        return _Proxy(parts.hostname, port, authorization)


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
        self._proxies = _ProxyRules(os.environ if env is None else env)
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

    def _checkout(self, origin: tuple[str, str, int], proxy: _Proxy | None) -> _Connection:
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                conn = idle.pop() if idle else None
            if conn is None:
                return self._connect(origin, proxy)
            if not conn.dropped():
                return conn
            conn.close()

    def _connect(self, origin: tuple[str, str, int], proxy: _Proxy | None) -> _Connection:
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
                    _tunnel(sock, where, proxy)
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
            line = conn.reader.readline(_MAX_LINE + 1)
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
            status, headers, body, keep = _read_response(conn.reader, line, method)
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


def _tunnel(sock: socket.socket, where: str, proxy: _Proxy) -> None:
    """Ask the proxy for a TCP tunnel to ``where`` (``CONNECT``, RFC 9110 §9.3.6)."""
    auth = f"Proxy-Authorization: {proxy.authorization}\r\n" if proxy.authorization else ""
    sock.sendall(f"CONNECT {where} HTTP/1.1\r\nHost: {where}\r\n{auth}\r\n".encode("latin-1"))
    # Unbuffered, so that nothing of the TLS handshake after the proxy's answer is read here.
    with sock.makefile("rb", buffering=0) as reader:
        line = reader.readline(_MAX_LINE + 1)
        if not line:
            raise ProtocolError(
                f"the proxy {proxy.url} closed the connection instead of answering CONNECT {where}"
            )
        _, status, reason = _status_line(line)
        _read_headers(reader)
    if status != 200:
        raise ProxyError(
            f"the proxy {proxy.url} refused to tunnel to {where}: HTTP {status} {reason}".rstrip()
        )


class _Lines(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


def _read_response(reader: IO[bytes], line: bytes, method: str) -> tuple[int, Headers, bytes, bool]:
    version, status, _ = _status_line(line)
    headers = _read_headers(reader)
    while 100 <= status < 200 and status != 101:  # 100 Continue and friends precede the real answer
        version, status, _ = _status_line(reader.readline(_MAX_LINE + 1))
        headers = _read_headers(reader)
    framed = status != 101  # a switched protocol is not HTTP any more: never reuse the connection
    codings = headers.get("transfer-encoding", "").lower()
    if method == "HEAD" or status in (101, 204, 304):
        body = b""
    elif codings.rsplit(",", 1)[-1].strip() == "chunked":
        body = _read_chunked(reader)
    elif codings or "content-length" not in headers:
        body, framed = reader.read(), False  # the body ends where the connection does
    else:
        lengths = {v.strip() for v in headers["content-length"].split(",")}
        if len(lengths) != 1 or not _digits(next(iter(lengths))):
            raise ProtocolError(f"expected one Content-Length, got {headers['content-length'][:60]!r}")
        length = int(lengths.pop())
        body = reader.read(length)
        if len(body) < length:
            raise ProtocolError(f"the connection closed after {len(body)} of {length} body bytes")
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    keep = framed and "close" not in tokens and (version == "HTTP/1.1" or "keep-alive" in tokens)
    return status, headers, body, keep


def _status_line(line: bytes) -> tuple[str, int, str]:
    if not line:
        raise ProtocolError("the connection closed inside the answer's head")
    text = line.decode("latin-1").rstrip("\r\n")
    version, _, rest = text.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not _digits(code):
        raise ProtocolError(f"expected an HTTP/1.x status line, got {text[:60]!r}")
    return version, int(code), reason.strip()


def _read_headers(reader: _Lines) -> Headers:
    items: list[tuple[str, str]] = []
    while True:
        line = reader.readline(_MAX_LINE + 1)
        if not line:
            raise ProtocolError("the connection closed inside the answer's headers")
        if len(line) > _MAX_LINE or len(items) > _MAX_HEADERS:
            raise ProtocolError(f"expected at most {_MAX_HEADERS} header lines of 64 KiB, got more")
        if line in (b"\r\n", b"\n"):
            return Headers(items)
        text = line.decode("latin-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and items:  # an obsolete folded continuation line
            items[-1] = (items[-1][0], f"{items[-1][1]} {text.strip()}")
            continue
        name, sep, value = text.partition(":")
        if not sep or not name.strip():
            raise ProtocolError(f"expected a header line 'Name: value', got {text[:60]!r}")
        items.append((name.strip(), value.strip()))


def _read_chunked(reader: IO[bytes]) -> bytes:
    blocks: list[bytes] = []
    while True:
        line = reader.readline(_MAX_LINE + 1)
        if not line:
            raise ProtocolError("the connection closed inside a chunked body")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            size = -1
        if size < 0:
            raise ProtocolError(f"expected a chunk size, got {line[:40]!r}")
        if size == 0:
            _read_headers(reader)  # trailers, unused
            return b"".join(blocks)
        block = reader.read(size)
        if len(block) < size or reader.readline(_MAX_LINE + 1) not in (b"\r\n", b"\n"):
            raise ProtocolError("the connection closed inside a chunk")
        blocks.append(block)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or exc.__class__.__name__
