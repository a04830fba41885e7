"""A fault proxy in front of the test cluster's API server: the faults a healthy kube-apiserver does not
make on demand (a 5xx, a 429, a 409, a connection dropped before or after the server acted), injected
into exactly the requests a test names, while everything else is forwarded untouched.

kubectl talks plain HTTP to the proxy on 127.0.0.1 (a generated kubeconfig without credentials, so no
certificate of the proxy's own is needed); the proxy forwards over HTTPS to the real API server with
the client certificate, key and CA of the cluster's admin kubeconfig. A kubeconfig may name a user to
impersonate: kubectl sends ``Impersonate-User``, the proxy forwards it, and the real API server's RBAC
answers for that user (a real Forbidden, not an injected one).

Per test: :meth:`FaultProxy.fail` answers the next N requests matching a method and a regular
expression on the request target (path and query) with a Kubernetes ``Status`` of the given code;
:meth:`FaultProxy.drop` closes the connection instead (before forwarding, or after the API server has
acted on the request and answered); :meth:`FaultProxy.count` says how many matching requests reached
the API server. Threads and the standard library only.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from tests.integration.k8scluster import KubeCluster

Action = Literal["status", "drop", "reset", "drop-after"]
"""status: answer with a Status; drop: close before forwarding (EOF); reset: abort before forwarding
(RST, 'connection reset by peer'); drop-after: forward, let the API server act, then close unanswered."""

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
}
# What kube-apiserver answers with these codes (k8s.io/apimachinery/pkg/api/errors).
_STATUS: dict[int, tuple[str, str]] = {
    403: ("Forbidden", "forbidden: injected by the fault proxy"),
    409: (
        "Conflict",
        "Operation cannot be fulfilled: the object has been modified; please apply your changes to the "
        "latest version and try again",
    ),
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected by the fault proxy"),
    503: ("ServiceUnavailable", "the API server is shutting down (injected by the fault proxy)"),
    504: (
        "Timeout",
        "Timeout: request did not complete within the allotted timeout (injected by the fault proxy)",
    ),
}


@dataclass
class Fault:
    """What to do with the next ``times`` requests of ``method`` whose target matches ``target``."""

    method: str
    target: re.Pattern[str]
    action: Action
    times: int
    code: int = 0
    retry_after: int | None = None

    def matches(self, method: str, target: str) -> bool:
        return self.times > 0 and method == self.method and self.target.search(target) is not None


@dataclass(frozen=True)
class Exchange:
    """One request the proxy saw, and what became of it."""

    method: str
    target: str
    outcome: str
    """``forwarded <code>``, ``status <code>``, ``drop``, ``reset`` or ``drop-after <code>``."""

    @property
    def forwarded(self) -> bool:
        return self.outcome.startswith(("forwarded", "drop-after"))


@dataclass
class FaultProxy:
    """The proxy's state: the faults still to inject and every exchange so far."""

    upstream: str
    """``https://127.0.0.1:<port>``: the real API server."""
    tls: ssl.SSLContext
    workdir: Path
    faults: list[Fault] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    """``http://127.0.0.1:<port>``, once serving."""

    def fail(
        self, method: str, target: str, *, code: int, times: int = 1, retry_after: int | None = None
    ) -> None:
        """Answer the next ``times`` matching requests with a ``Status`` of ``code`` (403, 409, 429, 5xx),
        without a Retry-After header unless ``retry_after`` (with one, kubectl itself waits and retries)."""
        assert code in _STATUS, f"no Status known for {code}"
        self._add(Fault(method, re.compile(target), "status", times, code, retry_after))

    def drop(self, method: str, target: str, *, times: int = 1, how: Action = "drop") -> None:
        """Close the connection of the next ``times`` matching requests: ``drop`` (EOF) or ``reset`` (RST)
        before the API server sees them, ``drop-after`` once it has acted and answered."""
        assert how != "status"
        self._add(Fault(method, re.compile(target), how, times))

    def count(self, method: str, target: str) -> int:
        """Matching requests that reached the API server (injected answers not counted)."""
        pattern = re.compile(target)
        with self.lock:
            return sum(
                1 for e in self.exchanges if e.forwarded and e.method == method and pattern.search(e.target)
            )

    def seen(self, method: str, target: str) -> list[str]:
        """The outcome of every matching request, in order."""
        pattern = re.compile(target)
        with self.lock:
            return [e.outcome for e in self.exchanges if e.method == method and pattern.search(e.target)]

    def pending(self) -> int:
        """Faults not injected yet."""
        with self.lock:
            return sum(f.times for f in self.faults)

    def kubeconfig(self, *, impersonate: str | None = None, name: str = "kubeconfig") -> Path:
        """A kubeconfig for the proxy (plain HTTP, no credentials; ``impersonate``: kubectl acts as that user)."""
        user: dict[str, Any] = {"as": impersonate} if impersonate else {}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "faults", "cluster": {"server": self.url}}],
            "users": [{"name": "faults", "user": user}],
            "contexts": [{"name": "faults", "context": {"cluster": "faults", "user": "faults"}}],
            "current-context": "faults",
        }
        path = self.workdir / f"{name}.json"
        path.write_text(json.dumps(config))
        return path

    def _add(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def _take(self, method: str, target: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, target):
                    fault.times -= 1
                    return fault
        return None

    def _log(self, method: str, target: str, outcome: str) -> None:
        with self.lock:
            self.exchanges.append(Exchange(method, target, outcome))


def _status_body(code: int, target: str) -> bytes:
    reason, message = _STATUS[code]
    return json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "details": {"causes": [{"message": f"injected into {target}"}]},
            "code": code,
        }
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy: FaultProxy  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the exchanges are the log
        pass

    def _body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _abort(self, *, reset: bool) -> None:
        if reset:  # an abortive close sends RST: the client reads "connection reset by peer"
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()
        self.close_connection = True

    def _handle(self) -> None:
        proxy, method, target = self.proxy, self.command, self.path
        body = self._body()
        fault = proxy._take(method, target)
        if fault is not None and fault.action == "status":
            proxy._log(method, target, f"status {fault.code}")
            payload = _status_body(fault.code, target)
            self.send_response(fault.code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if fault.retry_after is not None:
                self.send_header("Retry-After", str(fault.retry_after))
            self.end_headers()
            self.wfile.write(payload)
            return
        if fault is not None and fault.action in ("drop", "reset"):
            proxy._log(method, target, fault.action)
            self._abort(reset=fault.action == "reset")
            return
        split = urlsplit(proxy.upstream)
        upstream = http.client.HTTPSConnection(
            split.hostname or "", split.port, context=proxy.tls, timeout=60
        )
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            upstream.request(method, target, body=body, headers=headers)
            answer = upstream.getresponse()
            if fault is not None:  # drop-after: the API server has acted; its answer is lost
                answer.read()
                proxy._log(method, target, f"drop-after {answer.status}")
                self._abort(reset=False)
                return
            proxy._log(method, target, f"forwarded {answer.status}")
            self.send_response(answer.status, answer.reason)
            for key, value in answer.getheaders():
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            length = answer.getheader("Content-Length")
            if method == "HEAD" or answer.status in (204, 304) or answer.status < 200:
                self.end_headers()  # no body, whatever the headers say
                return
            if length is not None:
                payload = answer.read()
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            # A streamed answer (a watch, a long list) is relayed chunk by chunk as it comes.
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while chunk := answer.read1(65536):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        finally:
            upstream.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


def _pem(cluster_or_user: dict[str, Any], key: str, workdir: Path, name: str) -> str:
    """A kubeconfig's ``key`` as a file path: the path it names, or its ``key-data`` written out."""
    if cluster_or_user.get(f"{key}-data"):
        path = workdir / name
        path.write_bytes(base64.b64decode(cluster_or_user[f"{key}-data"]))
        return str(path)
    return str(cluster_or_user[key])


@contextmanager
def fault_proxy(cluster: KubeCluster, workdir: Path) -> Iterator[FaultProxy]:
    """A proxy to ``cluster``'s API server on a free loopback port, stopped afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = json.loads(cluster.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    server = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    tls = ssl.create_default_context(cafile=_pem(server, "certificate-authority", workdir, "ca.crt"))
    tls.load_cert_chain(
        _pem(user, "client-certificate", workdir, "client.crt"),
        _pem(user, "client-key", workdir, "client.key"),
    )
    tls.set_alpn_protocols(["http/1.1"])
    proxy = FaultProxy(upstream=server["server"], tls=tls, workdir=workdir)
    handler = type("Handler", (_Handler,), {"proxy": proxy})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name="kubefaults", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
