"""A small HTTP/1.1 (RFC 9112) keep-alive client for loopback targets, made for load generation: a request
goes out, its status and goship's headers come back, its body is read and dropped."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit

from goship.errors import UsageError

__all__ = [
    "ERROR_HEADER",
    "VERSION_HEADER",
    "HttpPool",
    "Reply",
    "Request",
    "TargetSpec",
    "Transport",
    "target_address",
]

VERSION_HEADER = "X-Goship-Version"
ERROR_HEADER = "X-Goship-Error"


class TargetSpec(Protocol):
    """What :class:`HttpPool` needs of a load spec (:class:`goship.local.loadgen.LoadSpec` has it)."""

    @property
    def target(self) -> str:
        """Base URL of a loopback HTTP server, e.g. ``http://127.0.0.1:8080``."""
        ...


def target_address(target: str) -> tuple[str, int]:
    """(host, port) of a loopback ``http://`` URL; anything that could leave the machine is refused."""
    parts = urlsplit(target)
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise UsageError(f"target: expected http://<loopback host>:<port> (not {target!r})") from exc
    if parts.scheme != "http" or not host or (parts.path not in ("", "/")) or parts.query:
        raise UsageError(f"target: expected http://<loopback host>:<port> (not {target!r})")
    if not _is_loopback(host):
        raise UsageError(
            f"target: load goes to loopback only (127.0.0.0/8, ::1 or localhost), not {host!r}",
            hint="rehearse against the local router; load tests of shared environments are out of scope",
        )
    return host, port or 80


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the transport sends it."""

    method: str
    """HTTP method."""
    path: str
    """Absolute path and query."""
    headers: tuple[tuple[str, str], ...]
    """Header lines besides Host."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What a transport got back: a status line and the goship headers, or a connection failure."""

    status: int | None = None
    """HTTP status, or None when no complete answer arrived."""
    version: str | None = None
    """``X-Goship-Version`` of the answer."""
    router_error: str | None = None
    """``X-Goship-Error`` of the answer (set by goship's router when it, not the app, failed)."""
    failure: Literal["reset", "connect"] | None = None
    """Set when the exchange broke (``reset``) or no connection could be made (``connect``)."""


class Transport(Protocol):
    """Sends requests to the target; created and used inside the load's event loop."""

    async def send(self, request: Request) -> Reply:
        """Exchange one request; cancellation (a timeout) must leave the transport usable."""

    async def aclose(self) -> None:
        """Close every connection."""


class HttpPool:
    """HTTP/1.1 keep-alive connections to one loopback address, opened as concurrency needs them."""

    def __init__(self, spec: TargetSpec) -> None:
        host, port = target_address(spec.target)
        # Resolve once, so "localhost" cannot be pointed off the machine by a hosts file.
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        # IPv4 first: "localhost" servers listen on 127.0.0.1 far more often than on ::1.
        addresses = sorted({str(info[4][0]) for info in infos}, key=lambda a: ":" in a)
        if not addresses or not all(_is_loopback(a) for a in addresses):
            raise UsageError(f"target: {host!r} resolves to {addresses}, not only to loopback addresses")
        self._address = (addresses[0], port)
        self._host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._open: set[asyncio.StreamWriter] = set()

    async def send(self, request: Request) -> Reply:
        while self._idle:
            reader, writer = self._idle.pop()
            if reader.at_eof() or writer.is_closing():
                self._close(writer)
                continue
            reply = await self._exchange(reader, writer, request, reused=True)
            if reply is not None:
                return reply
            break  # the server closed an idle connection before reading: retry once on a new one
        try:
            reader, writer = await asyncio.open_connection(*self._address, limit=1 << 16)
        except OSError:
            return Reply(failure="connect")
        self._open.add(writer)
        return await self._exchange(reader, writer, request, reused=False) or Reply(failure="reset")

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Request, *, reused: bool
    ) -> Reply | None:
        """The reply, or None when a reused connection turned out closed before any answer began."""
        lines = [f"{request.method} {request.path} HTTP/1.1", f"Host: {self._host_header}"]
        lines += [f"{k}: {v}" for k, v in request.headers]
        answered = False
        try:
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            await writer.drain()
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                answered = bool(exc.partial)
                raise
            answered = True
            status, headers, keep_alive = _parse_head(head)
            keep_alive = await _read_body(reader, request.method, status, headers) and keep_alive
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            # A malformed answer is lost like a reset one: the connection cannot be trusted after it.
            self._close(writer)
            return None if reused and not answered else Reply(failure="reset")
        except BaseException:
            self._close(writer)  # cancelled mid-exchange: the connection's state is unknown
            raise
        if keep_alive:
            self._idle.append((reader, writer))
        else:
            self._close(writer)
        return Reply(status, headers.get(VERSION_HEADER.lower()), headers.get(ERROR_HEADER.lower()))

    def _close(self, writer: asyncio.StreamWriter) -> None:
        self._open.discard(writer)
        writer.close()

    async def aclose(self) -> None:
        for writer in list(self._open):
            self._close(writer)
        self._idle.clear()


def _parse_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    """Status, lower-cased headers and whether the connection may be reused."""
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    http_version, code = status_line.split(" ", 2)[:2]
    headers: dict[str, str] = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    keep_alive = "keep-alive" in connection if http_version == "HTTP/1.0" else "close" not in connection
    return int(code), headers, keep_alive


async def _read_body(
    reader: asyncio.StreamReader, method: str, status: int, headers: Mapping[str, str]
) -> bool:
    """Read (and drop) the body; False when it ran to the end of the connection."""
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return True
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                return True
            await reader.readexactly(size + 2)
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
        return True
    await reader.read()
    return False
