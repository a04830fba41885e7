"""HTTP/1.1 messages as goship's client reads them (RFC 9112): status line, headers, bodies by length or
chunked; the answer (:class:`Response`) and the errors the client raises."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol
from urllib.parse import unquote_plus, urlencode, urlsplit

MAX_LINE = 65536
MAX_HEADERS = 100


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
    def text(self) -> str:
        """The body as text, in the ``charset`` its ``Content-Type`` names (UTF-8 when it names none
        goship knows); bytes that do not decode read as U+FFFD, so an error page always has words."""
        charset = re.search(r";\s*charset\s*=\s*\"?([\w.:-]+)", self.headers.get("content-type", ""), re.I)
        try:
            return self.content.decode(charset.group(1) if charset else "utf-8", "replace")
        except LookupError:
            return self.content.decode("utf-8", "replace")

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


class Lines(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


def read_response(reader: IO[bytes], line: bytes, method: str) -> tuple[int, Headers, bytes, bool]:
    version, status, _ = status_line(line)
    headers = read_headers(reader)
    while 100 <= status < 200 and status != 101:  # 100 Continue and friends precede the real answer
        version, status, _ = status_line(reader.readline(MAX_LINE + 1))
        headers = read_headers(reader)
    framed = status != 101  # a switched protocol is not HTTP any more: never reuse the connection
    codings = headers.get("transfer-encoding", "").lower()
    if method == "HEAD" or status in (101, 204, 304):
        body = b""
    elif codings.rsplit(",", 1)[-1].strip() == "chunked":
        body = read_chunked(reader)
    elif codings or "content-length" not in headers:
        body, framed = reader.read(), False  # the body ends where the connection does
    else:
        lengths = {v.strip() for v in headers["content-length"].split(",")}
        if len(lengths) != 1 or not digits(next(iter(lengths))):
            raise ProtocolError(f"expected one Content-Length, got {headers['content-length'][:60]!r}")
        length = int(lengths.pop())
        body = reader.read(length)
        if len(body) < length:
            raise ProtocolError(f"the connection closed after {len(body)} of {length} body bytes")
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    keep = framed and "close" not in tokens and (version == "HTTP/1.1" or "keep-alive" in tokens)
    return status, headers, body, keep


def status_line(line: bytes) -> tuple[str, int, str]:
    if not line:
        raise ProtocolError("the connection closed inside the answer's head")
    text = line.decode("latin-1").rstrip("\r\n")
    version, _, rest = text.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not digits(code):
        raise ProtocolError(f"expected an HTTP/1.x status line, got {text[:60]!r}")
    return version, int(code), reason.strip()


def read_headers(reader: Lines) -> Headers:
    items: list[tuple[str, str]] = []
    while True:
        line = reader.readline(MAX_LINE + 1)
        if not line:
            raise ProtocolError("the connection closed inside the answer's headers")
        if len(line) > MAX_LINE or len(items) > MAX_HEADERS:
            raise ProtocolError(f"expected at most {MAX_HEADERS} header lines of 64 KiB, got more")
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


def read_chunked(reader: IO[bytes]) -> bytes:
    blocks: list[bytes] = []
    while True:
        line = reader.readline(MAX_LINE + 1)
        if not line:
            raise ProtocolError("the connection closed inside a chunked body")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            size = -1
        if size < 0:
            raise ProtocolError(f"expected a chunk size, got {line[:40]!r}")
        if size == 0:
            read_headers(reader)  # trailers, unused
            return b"".join(blocks)
        block = reader.read(size)
        if len(block) < size or reader.readline(MAX_LINE + 1) not in (b"\r\n", b"\n"):
            raise ProtocolError("the connection closed inside a chunk")
        blocks.append(block)


def digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
