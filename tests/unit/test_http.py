"""goship's HTTP/1.1 client against real loopback servers (the standard library's ThreadingHTTPServer):
keep-alive reuse, chunked uploads, redirects, proxies from the environment, dropped connections,
timeouts, and TLS with a self-signed certificate made by the openssl command; the answer parser is also
fed bytes directly, for chunking of any shape and for broken answers."""

from __future__ import annotations

import io
import json
import queue
import re
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goship._http import (
    Client,
    Headers,
    NetworkError,
    ProtocolError,
    ProxyError,
    Response,
    TimedOutError,
    merge_params,
)
from goship._http.messages import read_response


@dataclass(frozen=True)
class Seen:
    """One request a test server read."""

    requestline: str
    method: str
    path: str
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes
    connection: int
    """Which connection (1, 2, …) carried it."""
    nth: int
    """Its place on that connection (1 for the first)."""


Answer = Callable[["Handler", Seen], None]


def reply(handler: BaseHTTPRequestHandler, status: int = 200, body: bytes = b"ok", **headers: str) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection_no = self.server.connected()
        self.nth = 0

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while size := int(self.rfile.readline().split(b";")[0], 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return data
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def _handle(self) -> None:
        self.nth += 1
        seen = Seen(
            self.requestline,
            self.command,
            self.path,
            {k.lower(): v for k, v in self.headers.items()},
            b"" if self.command == "CONNECT" else self._body(),
            self.connection_no,
            self.nth,
        )
        self.server.seen.append(seen)
        self.server.answer(self, seen)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_CONNECT = _handle


class LoopbackServer(ThreadingHTTPServer):
    """A server on 127.0.0.1 that records what it reads and answers through ``answer``."""

    daemon_threads = True

    def __init__(self, answer: Answer, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.answer = answer
        self.seen: list[Seen] = []
        self.connections = 0
        self.closed: queue.Queue[int] = queue.Queue()
        self._count = threading.Lock()
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def connected(self) -> int:
        with self._count:
            self.connections += 1
            return self.connections

    def shutdown_request(self, request: object) -> None:
        super().shutdown_request(request)  # type: ignore[arg-type]
        self.closed.put(1)

    def url(self, path: str = "/", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


@pytest.fixture
def serve() -> Iterator[Callable[..., LoopbackServer]]:
    started: list[LoopbackServer] = []

    def start(answer: Answer = lambda h, s: reply(h), tls: ssl.SSLContext | None = None) -> LoopbackServer:
        started.append(LoopbackServer(answer, tls))
        return started[-1]

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture
def client() -> Iterator[Client]:
    with Client(timeout=5.0, connect_timeout=5.0, env={}) as c:
        yield c


# ----------------------------------------------------------------------------- connections and bodies


def test_requests_to_one_origin_share_one_kept_alive_connection(
    serve: Callable[..., LoopbackServer], client: Client
) -> None:
    server = serve()
    answers = [client.request(m, server.url(f"/{n}")) for n, m in enumerate(["GET", "HEAD", "POST", "GET"])]
    assert [(r.status_code, r.content) for r in answers] == [
        (200, b"ok"),
        (200, b""),
        (200, b"ok"),
        (200, b"ok"),
    ]
    assert server.connections == 1
    assert [s.nth for s in server.seen] == [1, 2, 3, 4]
    assert server.seen[2].headers["content-length"] == "0"  # a bodiless POST still says so


def test_an_iterator_body_goes_chunked_and_arrives_whole(
    serve: Callable[..., LoopbackServer], client: Client
) -> None:
    server = serve()
    blocks = [b"x" * 70000, b"", b"second block", bytes(range(256))]
    client.request("PUT", server.url("/upload"), content=iter(blocks))
    (seen,) = server.seen
    assert seen.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in seen.headers
    assert seen.body == b"".join(blocks)


def test_a_large_bytes_body_arrives_whole(serve: Callable[..., LoopbackServer], client: Client) -> None:
    server = serve()
    body = bytes(range(256)) * (3 * 4096 + 7)  # over three write slices of 1 MiB
    client.request("PUT", server.url("/blob"), content=body)
    (seen,) = server.seen
    assert (seen.headers["content-length"], seen.body) == (str(len(body)), body)


def test_an_iterator_body_with_a_content_length_goes_as_it_is(
    serve: Callable[..., LoopbackServer], client: Client
) -> None:
    server = serve()
    client.request(
        "PATCH",
        server.url("/upload"),
        headers={"Content-Length": "10", "Content-Range": "0-9"},
        content=iter([b"01234", b"56789"]),
    )
    (seen,) = server.seen
    assert "transfer-encoding" not in seen.headers
    assert (seen.headers["content-length"], seen.headers["content-range"], seen.body) == (
        "10",
        "0-9",
        b"0123456789",
    )


def test_chunked_answers_and_answers_that_end_with_the_connection_are_read_whole(
    serve: Callable[..., LoopbackServer], client: Client
) -> None:
    def answer(h: Handler, seen: Seen) -> None:
        if seen.path == "/chunked":
            h.send_response(200)
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            h.wfile.write(b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\n")
        else:
            h.send_response(200)  # neither length nor chunks: the body ends when the connection does
            h.end_headers()
            h.wfile.write(b"until close")
            h.close_connection = True

    server = serve(answer)
    assert client.request("GET", server.url("/chunked")).content == b"hello, world"
    assert client.request("GET", server.url("/until-close")).content == b"until close"
    assert client.request("GET", server.url("/chunked")).content == b"hello, world"
    assert server.connections == 2


@given(st.lists(st.binary(min_size=1), max_size=6), st.booleans())
def test_any_split_into_chunks_reads_back_as_the_body(blocks: list[bytes], extensions: bool) -> None:
    ext = b";name=value" if extensions else b""
    raw = b"Transfer-Encoding: chunked\r\n\r\n"
    raw += b"".join(b"%x%b\r\n%b\r\n" % (len(b), ext, b) for b in blocks) + b"0\r\n\r\n"
    status, headers, body, keep = read_response(io.BytesIO(raw), b"HTTP/1.1 200 OK\r\n", "GET")
    assert (status, headers["transfer-encoding"], body, keep) == (200, "chunked", b"".join(blocks), True)


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"HTTP/2 200\r\n", "expected an HTTP/1.x status line, got 'HTTP/2 200'"),
        (b"HTTP/1.1 2\xb2\xb3 OK\r\n", "expected an HTTP/1.x status line"),
        (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "expected a header line 'Name: value', got 'no colon'"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "expected one Content-Length, got '5, 6'"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", "the connection closed after 3 of 5 body bytes"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "expected a chunk size, got b'zz\\r\\n'",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            "the connection closed inside a chunk",
        ),
        (b"HTTP/1.1 200 OK\r\nX: 1\r\n", "the connection closed inside the answer's headers"),
    ],
)
def test_a_broken_answer_is_a_protocol_error_that_says_what_was_wrong(head: bytes, message: str) -> None:
    reader = io.BytesIO(head)
    with pytest.raises(ProtocolError, match=re.escape(message)):
        read_response(reader, reader.readline(), "GET")


def test_headers_match_without_case_and_repeated_ones_join() -> None:
    headers = Headers([("WWW-Authenticate", 'Bearer realm="a"'), ("www-authenticate", "Basic"), ("X", "1")])
    assert headers["www-authenticate"] == 'Bearer realm="a", Basic'
    assert "x" in headers and "X" in headers and "y" not in headers
    assert headers.get("Missing", "d") == "d"
    assert len(headers) == 2


def test_links_by_relation() -> None:
    link = '</v2/_catalog?last=b&n=2>; rel="next", <https://example.com/a>; rel="prev first"'
    response = Response(200, Headers([("Link", link)]), b"", "http://127.0.0.1/v2/_catalog")
    assert response.links == {
        "next": "/v2/_catalog?last=b&n=2",
        "prev": "https://example.com/a",
        "first": "https://example.com/a",
    }


@pytest.mark.parametrize(
    ("content_type", "body", "text"),
    [
        ("text/plain; charset=ISO-8859-1", b"caf\xe9", "café"),
        ('text/html; charset="utf-8"', "café".encode(), "café"),
        ("application/json", b'{"error": "\xff"}', '{"error": "\ufffd"}'),  # not UTF-8: replaced, not raised
        ("text/plain; charset=no-such-codec", b"ok", "ok"),
    ],
)
def test_text_is_the_body_in_the_charset_the_answer_names_else_utf_8(
    serve: Callable[..., LoopbackServer], client: Client, content_type: str, body: bytes, text: str
) -> None:
    server = serve(lambda h, s: reply(h, 502, body, Content_Type=content_type))
    assert client.request("GET", server.url()).text == text


def test_merge_params_replaces_a_name_and_keeps_the_rest_of_the_query_as_written() -> None:
    url = "http://127.0.0.1:5000/v2/r/blobs/uploads/u?_state=ab%2Bc%3D%3D&digest=old"
    assert merge_params(url, {"digest": "sha256:00"}) == (
        "http://127.0.0.1:5000/v2/r/blobs/uploads/u?_state=ab%2Bc%3D%3D&digest=sha256%3A00"
    )
    assert merge_params(url, {}) == url
    assert merge_params("https://auth.example.com/token", [("scope", "a:b:pull"), ("scope", "c:d:push")]) == (
        "https://auth.example.com/token?scope=a%3Ab%3Apull&scope=c%3Ad%3Apush"
    )


@given(
    st.dictionaries(st.text(min_size=1), st.text(), max_size=4),
    st.lists(st.tuples(st.text(min_size=1), st.text()), max_size=4),
)
def test_merged_params_read_back_as_given(base: dict[str, str], added: list[tuple[str, str]]) -> None:
    from urllib.parse import urlencode

    url = merge_params(
        f"https://r.example.com/p?{urlencode(base)}" if base else "https://r.example.com/p", added
    )
    names = {k for k, _ in added}
    expected = [(k, v) for k, v in base.items() if k not in names] + added
    assert parse_qsl(urlsplit(url).query, keep_blank_values=True) == expected


# ----------------------------------------------------------------------------- redirects


def test_a_303_turns_into_a_get_and_drops_authorization_on_another_host(
    serve: Callable[..., LoopbackServer], client: Client
) -> None:
    storage = serve(lambda h, s: reply(h, body=b"blob bytes"))
    registry = serve(lambda h, s: reply(h, 303, b"", Location=storage.url("/signed?sig=1", host="localhost")))
    response = client.request(
        "POST",
        registry.url("/v2/r/blobs/x"),
        headers={"Authorization": "Bearer t"},
        content=b"data",
        follow_redirects=True,
    )
    assert (response.status_code, response.content) == (200, b"blob bytes")
    assert response.url == storage.url("/signed?sig=1", host="localhost")
    (first,), (second,) = registry.seen, storage.seen
    assert (first.method, first.headers["authorization"], first.body) == ("POST", "Bearer t", b"data")
    assert (second.method, second.path, second.body) == ("GET", "/signed?sig=1", b"")
    assert "authorization" not in second.headers and "content-length" not in second.headers


def test_a_307_on_the_same_host_keeps_method_body_and_authorization(
    serve: Callable[..., LoopbackServer], client: Client
) -> None:
    server = serve(lambda h, s: reply(h, 307, b"", Location="/there") if s.path == "/here" else reply(h))
    response = client.request(
        "PUT",
        server.url("/here"),
        headers={"Authorization": "Basic x"},
        content=b"same",
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert [(s.method, s.path, s.headers.get("authorization"), s.body) for s in server.seen] == [
        ("PUT", "/here", "Basic x", b"same"),
        ("PUT", "/there", "Basic x", b"same"),
    ]


def test_redirects_are_returned_unless_asked_to_follow(
    serve: Callable[..., LoopbackServer], client: Client
) -> None:
    server = serve(lambda h, s: reply(h, 302, b"", Location="/elsewhere"))
    response = client.request("GET", server.url("/here"))
    assert (response.status_code, response.headers["location"], len(server.seen)) == (302, "/elsewhere", 1)


# ----------------------------------------------------------------------------- proxies


@pytest.mark.parametrize(
    ("env", "url", "proxy"),
    [
        ({"https_proxy": "http://proxy:3128"}, "https://ghcr.io/v2/", "http://proxy:3128"),
        ({"https_proxy": "http://proxy:3128"}, "http://ghcr.io/v2/", None),
        ({"HTTP_PROXY": "http://proxy:3128"}, "http://ghcr.io/v2/", "http://proxy:3128"),
        (
            {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"},
            "https://ghcr.io/",
            "http://lower:2",
        ),
        ({"HTTPS_PROXY": "http://upper:1", "https_proxy": ""}, "https://ghcr.io/", None),
        ({"ALL_PROXY": "proxy:8080"}, "https://ghcr.io/", "http://proxy:8080"),
        ({"all_proxy": "http://user:p%40ss@proxy"}, "http://ghcr.io/", "http://proxy:80"),
        ({"HTTP_PROXY": "http://proxy:1", "REQUEST_METHOD": "GET"}, "http://ghcr.io/", None),
        ({"https_proxy": "http://proxy:1", "http_proxy": "http://proxy:1"}, "http://127.0.0.1:5000/", None),
        ({"https_proxy": "http://proxy:1"}, "https://localhost:5000/", None),
        ({"https_proxy": "http://proxy:1"}, "https://[::1]:5000/", None),
        ({"https_proxy": "http://proxy:1"}, "https://127.9.9.9/", None),
        ({"https_proxy": "http://p:1", "no_proxy": "example.com"}, "https://example.com/", None),
        ({"https_proxy": "http://p:1", "no_proxy": "example.com"}, "https://r.example.com/", None),
        ({"https_proxy": "http://p:1", "no_proxy": "example.com"}, "https://notexample.com/", "http://p:1"),
        ({"https_proxy": "http://p:1", "NO_PROXY": ".example.com"}, "https://example.com/", None),
        ({"https_proxy": "http://p:1", "NO_PROXY": "*.example.com"}, "https://r.example.com/", None),
        (
            {"https_proxy": "http://p:1", "no_proxy": " a.org , example.com:8443"},
            "https://r.example.com:8443/",
            None,
        ),
        (
            {"https_proxy": "http://p:1", "no_proxy": "example.com:8443"},
            "https://r.example.com/",
            "http://p:1",
        ),
        ({"https_proxy": "http://p:1", "no_proxy": "*"}, "https://anything.example/", None),
        ({"https_proxy": "http://p:1", "no_proxy": "10.0.0.0/8"}, "https://10.1.2.3/", None),
        ({"https_proxy": "http://p:1", "no_proxy": "10.0.0.0/8"}, "https://11.1.2.3/", "http://p:1"),
        (
            {"https_proxy": "http://p:1", "no_proxy": "[2001:db8::1]:5000"},
            "https://[2001:db8::1]:5000/",
            None,
        ),
    ],
)
def test_the_proxy_comes_from_the_environment(env: dict[str, str], url: str, proxy: str | None) -> None:
    assert Client(env=env).proxy_for(url) == proxy


def test_a_proxy_goship_cannot_speak_to_is_named_with_its_variable() -> None:
    with pytest.raises(
        ProxyError, match=r"^https_proxy names the proxy socks5://p:1080, expected http://host:port"
    ):
        Client(env={"https_proxy": "socks5://p:1080"}).proxy_for("https://ghcr.io/")


def test_plain_http_goes_through_the_proxy_by_absolute_url(serve: Callable[..., LoopbackServer]) -> None:
    proxy = serve(lambda h, s: reply(h, body=b"via proxy"))
    client = Client(env={"HTTP_PROXY": f"http://ada:pw@127.0.0.1:{proxy.port}"})
    response = client.request("GET", "http://registry.example.com:5000/v2/?n=1")
    assert response.content == b"via proxy"
    (seen,) = proxy.seen
    assert seen.requestline == "GET http://registry.example.com:5000/v2/?n=1 HTTP/1.1"
    assert seen.headers["host"] == "registry.example.com:5000"
    assert seen.headers["proxy-authorization"] == "Basic YWRhOnB3"


def test_loopback_hosts_never_go_through_the_proxy(serve: Callable[..., LoopbackServer]) -> None:
    proxy, origin = serve(), serve(lambda h, s: reply(h, body=b"direct"))
    client = Client(env={"http_proxy": proxy.url(), "all_proxy": proxy.url()})
    assert client.request("GET", origin.url("/v2/")).content == b"direct"
    assert proxy.seen == []


def test_https_goes_through_a_connect_tunnel(serve: Callable[..., LoopbackServer]) -> None:
    proxy = serve(lambda h, s: reply(h, 407, b"", Proxy_Authenticate='Basic realm="corp"'))
    client = Client(env={"https_proxy": f"127.0.0.1:{proxy.port}"})
    with pytest.raises(ProxyError) as caught:
        client.request("GET", "https://registry.example.com/v2/", headers={"Authorization": "Bearer secret"})
    assert str(caught.value) == (
        f"the proxy http://127.0.0.1:{proxy.port} refused to tunnel to registry.example.com:443: "
        "HTTP 407 Proxy Authentication Required"
    )
    (seen,) = proxy.seen
    assert seen.requestline == "CONNECT registry.example.com:443 HTTP/1.1"
    assert "authorization" not in seen.headers  # the registry's credentials are for the registry only


# ----------------------------------------------------------------------------- dropped connections, timeouts


def test_a_kept_alive_connection_the_server_closed_is_replaced_without_a_trace(
    serve: Callable[..., LoopbackServer], client: Client
) -> None:
    def answer(h: Handler, seen: Seen) -> None:
        reply(h, body=seen.body)
        h.close_connection = True  # closes after answering, without having said "Connection: close"

    server = serve(answer)
    assert client.request("POST", server.url(), content=b"one").content == b"one"
    server.closed.get(timeout=5)
    assert client.request("POST", server.url(), content=b"two").content == b"two"
    assert [(s.connection, s.body) for s in server.seen] == [(1, b"one"), (2, b"two")]


def close_on_the_second_request(h: Handler, seen: Seen) -> None:
    if seen.nth == 2:
        h.close_connection = True  # read it, then hang up without a word
    else:
        reply(h)


def test_a_get_the_server_hung_up_on_is_sent_again_on_a_new_connection(
    serve: Callable[..., LoopbackServer], client: Client
) -> None:
    server = serve(close_on_the_second_request)
    client.request("GET", server.url("/a"))
    assert client.request("GET", server.url("/b")).status_code == 200
    assert [(s.connection, s.path) for s in server.seen] == [(1, "/a"), (1, "/b"), (2, "/b")]


def test_a_post_the_server_hung_up_on_is_not_sent_again(
    serve: Callable[..., LoopbackServer], client: Client
) -> None:
    server = serve(close_on_the_second_request)
    client.request("GET", server.url("/a"))
    with pytest.raises(ProtocolError, match=r"^127\.0\.0\.1:\d+ closed the connection without answering$"):
        client.request("POST", server.url("/b"), content=b"may have acted on it")
    assert [(s.connection, s.method) for s in server.seen] == [(1, "GET"), (1, "POST")]


def test_a_server_that_does_not_answer_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts, never answers
        port = silent.getsockname()[1]
        with pytest.raises(TimedOutError, match=rf"^127\.0\.0\.1:{port} did not answer within 0\.2 s$"):
            Client(timeout=0.2, env={}).request("GET", f"http://127.0.0.1:{port}/")


def test_a_refused_connection_is_a_network_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    with pytest.raises(NetworkError, match=rf"^cannot connect to 127\.0\.0\.1:{port}: Connection refused$"):
        Client(env={}).request("GET", f"http://127.0.0.1:{port}/")


# ----------------------------------------------------------------------------- TLS


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return cert, context


def test_an_untrusted_certificate_is_refused(
    serve: Callable[..., LoopbackServer],
    self_signed: tuple[Path, ssl.SSLContext],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    server = serve(tls=self_signed[1])
    with pytest.raises(NetworkError, match=r"CERTIFICATE_VERIFY_FAILED.*point SSL_CERT_FILE at it\)$"):
        Client(env={}).request("GET", server.url(scheme="https"))
    assert server.seen == []


def test_ssl_cert_file_makes_a_certificate_trusted(
    serve: Callable[..., LoopbackServer],
    self_signed: tuple[Path, ssl.SSLContext],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed[0]))
    server = serve(lambda h, s: reply(h, body=b"over tls"), tls=self_signed[1])
    with Client(env={}) as client:
        assert [client.request("GET", server.url(scheme="https")).content for _ in range(2)] == [
            b"over tls"
        ] * 2
    assert server.connections == 1


def test_plain_http_loads_neither_ssl_nor_the_email_parser(serve: Callable[..., LoopbackServer]) -> None:
    server = serve(lambda h, s: reply(h, body=json.dumps({"ok": True}).encode()))
    program = (
        "import sys\n"
        "from goship.image.registry import Registry\n"
        "from goship._http import Client\n"
        "Registry('127.0.0.1:5000', insecure=True).close()\n"
        f"assert Client(env={{}}).request('GET', {server.url('/v2/')!r}).json() == {{'ok': True}}\n"
        "print(sorted(m for m in ('ssl', 'http.client', 'email', 'urllib.request', 'httpx') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
