"""Canary webhooks against a real loopback HTTP server: what is sent, and what counts as yes."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from goship.rollout.webhooks import Event, Webhook, WebhookRunner

EVENT = Event(service="orders", stable="v1.3.0", canary="v1.4.0", phase="Progressing", weight=25)


class _Hooks(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, object]]]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.received.append((self.path, body))
        if self.path == "/slow":
            time.sleep(1.0)
        status = {"/yes": 200, "/accepted": 202, "/no": 500, "/gate": 403}.get(self.path, 200)
        answer = b"not yet: waiting for QA" if status >= 300 else b"ok"
        try:
            self.send_response(status)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except BrokenPipeError:
            pass  # the caller gave up waiting, as it should


@pytest.fixture
def server() -> Iterator[str]:
    _Hooks.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_every_hook_of_a_kind_is_called_in_order_with_flagger_s_document(server: str) -> None:
    runner = WebhookRunner(
        [
            Webhook("load", "rollout", f"{server}/yes", metadata={"cmd": "hey -z 1m http://orders"}),
            Webhook("smoke", "pre-rollout", f"{server}/no"),
            Webhook("acceptance", "rollout", f"{server}/accepted"),
        ]
    )
    ok, results = runner.all_ok("rollout", EVENT)
    assert ok and [r.name for r in results] == ["load", "acceptance"]
    assert [(r.status, r.ok) for r in results] == [(200, True), (202, True)]
    assert [path for path, _ in _Hooks.received] == ["/yes", "/accepted"]
    document = _Hooks.received[0][1]
    assert document == {
        "name": "orders",
        "namespace": "local",
        "phase": "Progressing",
        "type": "rollout",
        "stable": "v1.3.0",
        "canary": "v1.4.0",
        "weight": 25,
        "checksum": document["checksum"],
        "metadata": {"cmd": "hey -z 1m http://orders"},
    }


def test_a_refusal_is_a_no_with_the_hook_s_own_words(server: str) -> None:
    ok, (result,) = WebhookRunner([Webhook("qa", "confirm-promotion", f"{server}/gate")]).all_ok(
        "confirm-promotion", EVENT
    )
    assert not ok and result.status == 403 and result.detail == "not yet: waiting for QA"


def test_a_hook_that_does_not_answer_in_time_is_a_no_after_its_timeout(server: str) -> None:
    started = time.monotonic()
    ok, (result,) = WebhookRunner([Webhook("slow", "pre-rollout", f"{server}/slow", timeout_s=0.2)]).all_ok(
        "pre-rollout", EVENT
    )
    assert not ok and result.status is None and "did not answer within 0.2 s" in result.detail
    assert time.monotonic() - started < 0.9


def test_a_hook_nobody_listens_on_is_a_no_not_an_exception() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ok, (result,) = WebhookRunner([Webhook("gone", "rollout", f"http://127.0.0.1:{port}/")]).all_ok(
        "rollout", EVENT
    )
    assert not ok and result.status is None and result.detail


def test_no_hooks_of_a_kind_is_a_yes() -> None:
    assert WebhookRunner([]).all_ok("confirm-rollout", EVENT) == (True, [])
