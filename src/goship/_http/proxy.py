"""Which proxy a request goes through (``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY`` as curl and Go read
them; never for this machine) and the ``CONNECT`` tunnel through it for https."""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from goship._http.messages import MAX_LINE, ProtocolError, ProxyError, digits, read_headers, status_line


def is_loopback_name(name: str) -> bool:
    """Whether a host name or address (no port, no brackets) is this machine."""
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None
    """``Proxy-Authorization`` from the user and password in the proxy's URL."""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class ProxyRules:
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
        self._parsed: dict[str, Proxy | None] = {}
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
        if name and (not port or digits(port)):
            self._names.append((name, int(port) if port else None))

    def proxy_for(self, scheme: str, host: str, port: int) -> Proxy | None:
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
    def _parse(var: str, value: str) -> Proxy:
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
        return Proxy(parts.hostname, port, authorization)


def tunnel(sock: socket.socket, where: str, proxy: Proxy) -> None:
    """Ask the proxy for a TCP tunnel to ``where`` (``CONNECT``, RFC 9110 §9.3.6)."""
    auth = f"Proxy-Authorization: {proxy.authorization}\r\n" if proxy.authorization else ""
    sock.sendall(f"CONNECT {where} HTTP/1.1\r\nHost: {where}\r\n{auth}\r\n".encode("latin-1"))
    # Unbuffered, so that nothing of the TLS handshake after the proxy's answer is read here.
    with sock.makefile("rb", buffering=0) as reader:
        line = reader.readline(MAX_LINE + 1)
        if not line:
            raise ProtocolError(
                f"the proxy {proxy.url} closed the connection instead of answering CONNECT {where}"
            )
        _, status, reason = status_line(line)
        read_headers(reader)
    if status != 200:
        raise ProxyError(
            f"the proxy {proxy.url} refused to tunnel to {where}: HTTP {status} {reason}".rstrip()
        )
