"""The canary engine with webhooks answered by a real loopback HTTP server: each kind gates what Flagger's
does, and every answer is in the canary's log."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from goship.config import parse_config
from goship.errors import ConfigError
from goship.local.canary import spec_document, spec_from_document
from goship.rollout.canary import CanaryEngine
from goship.rollout.webhooks import HookType, Webhook
from tests.unit.test_canary import World, spec


class _Script(BaseHTTPRequestHandler):
    """Answers per path from a script: each call takes the next status; the last one repeats."""

    answers: ClassVar[dict[str, list[int]]] = {}
    calls: ClassVar[list[tuple[str, dict[str, object]]]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.calls.append((self.path, body))
        script = self.answers.get(self.path, [200])
        status = script.pop(0) if len(script) > 1 else script[0]
        self.send_response(status)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"no" if status >= 300 else b"ok")


@pytest.fixture
def hooks_at() -> Iterator[str]:
    _Script.answers, _Script.calls = {}, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Script)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def engine(world: World, path: Path, base: str, **answers: list[int]) -> CanaryEngine:
    kinds: dict[str, HookType] = {
        "confirm_rollout": "confirm-rollout",
        "pre_rollout": "pre-rollout",
        "rollout": "rollout",
        "confirm_traffic_increase": "confirm-traffic-increase",
        "confirm_promotion": "confirm-promotion",
        "rollback": "rollback",
        "post_rollout": "post-rollout",
    }
    hooks = []
    for key, script in answers.items():
        _Script.answers[f"/{key}"] = list(script)
        hooks.append(Webhook(key, kinds[key], f"{base}/{key}", timeout_s=5))
    return CanaryEngine(
        world, world, world, spec(webhooks=tuple(hooks)), stable="v1", canary="v2", state=path,
        clock=world.clock, sleep=world.sleep, service="orders",
    )  # fmt: skip


def called(path: str) -> list[dict[str, object]]:
    return [body for p, body in _Script.calls if p == path]


def test_confirm_rollout_holds_the_start_until_yes(tmp_path: Path, hooks_at: str) -> None:
    w = World()
    final = engine(w, tmp_path / "c.json", hooks_at, confirm_rollout=[403, 403, 200]).start()
    assert final.phase == "succeeded"
    assert len(called("/confirm_rollout")) == 3
    # Nothing of the canary ran before the third answer.
    first_scale = next(i for i, (kind, x) in enumerate(w.log) if kind == "scale" and x == ("v2", 1))
    assert first_scale > 0 and called("/confirm_rollout")[0]["phase"] == "Initializing"
    said = [e.message for e in final.events if e.kind == "webhook"]
    assert said[:3] == [
        "confirm-rollout hook confirm_rollout: no (HTTP 403: no)",
        "confirm-rollout hook confirm_rollout: no (HTTP 403: no)",
        "confirm-rollout hook confirm_rollout: yes (HTTP 200)",
    ]


def test_pre_rollout_refusals_roll_back_before_any_traffic_moves(tmp_path: Path, hooks_at: str) -> None:
    w = World()
    final = engine(w, tmp_path / "c.json", hooks_at, pre_rollout=[500]).start()
    assert final.phase == "failed" and "pre-rollout hooks said no 2 time(s)" in final.reason
    assert all(weights.get("v2", 0) == 0 for weights in w.traffic_log())  # type: ignore[attr-defined]
    assert w.replicas["v2"] == 0


def test_a_rollout_hook_saying_no_fails_the_analysis_it_precedes(tmp_path: Path, hooks_at: str) -> None:
    w = World()
    final = engine(w, tmp_path / "c.json", hooks_at, rollout=[200, 503, 503]).start()
    assert final.phase == "failed"
    verdicts = [(d.verdict, d.judge) for d in final.decisions]
    assert verdicts == [("pass", "threshold"), ("fail", "webhooks"), ("fail", "webhooks")]
    assert "rollout hook rollout said no (HTTP 503: no)" in final.decisions[-1].reason
    assert called("/rollout")[0]["weight"] == 5 and called("/rollout")[0]["name"] == "orders"


def test_confirm_traffic_increase_holds_the_weight_until_yes(tmp_path: Path, hooks_at: str) -> None:
    w = World()
    final = engine(w, tmp_path / "c.json", hooks_at, confirm_traffic_increase=[409, 200]).start()
    assert final.phase == "succeeded"
    # Two passing analyses at 5 %: the first could not raise the weight.
    assert [d.weight for d in final.decisions] == [5, 5, 25, 50]


def test_confirm_promotion_holds_promotion_while_the_canary_is_still_judged(
    tmp_path: Path, hooks_at: str
) -> None:
    w = World()
    final = engine(w, tmp_path / "c.json", hooks_at, confirm_promotion=[423, 423, 200]).start()
    assert final.phase == "succeeded"
    assert [d.weight for d in final.decisions] == [5, 25, 50, 50, 50]
    assert any("waiting for the confirm-promotion hooks" in e.message for e in final.events)
    assert called("/confirm_promotion")[0]["phase"] == "Progressing"
    assert called("/confirm_promotion")[1]["phase"] == "WaitingPromotion"


def test_a_rollback_hook_saying_yes_rolls_back_and_post_rollout_hears_it(
    tmp_path: Path, hooks_at: str
) -> None:
    w = World()
    final = engine(w, tmp_path / "c.json", hooks_at, rollback=[404, 200], post_rollout=[200]).start()
    assert (final.phase, final.reason) == ("failed", "rollback hook rollback asked for it")
    assert len(final.decisions) == 1 and w.replicas["v2"] == 0
    (told,) = called("/post_rollout")
    assert (told["phase"], told["type"]) == ("Failed", "post-rollout")


def test_webhooks_in_goship_yaml_reach_the_engine_s_spec() -> None:
    config = parse_config(
        "canary:\n"
        "  webhooks:\n"
        "    - {name: load, type: rollout, url: 'http://127.0.0.1:9/', timeout: 2s, metadata: {cmd: hey}}\n"
        "    - {name: qa, type: confirm-promotion, url: 'http://127.0.0.1:9/qa'}\n",
        source="goship.yaml",
    )
    spec = spec_from_document(spec_document(config.canary), canary="v2", replicas=1)
    assert spec.webhooks == (
        Webhook("load", "rollout", "http://127.0.0.1:9/", timeout_s=2.0, metadata={"cmd": "hey"}),
        Webhook("qa", "confirm-promotion", "http://127.0.0.1:9/qa", timeout_s=10.0),
    )


def test_a_webhook_of_an_unknown_kind_is_refused_at_its_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            "canary:\n  webhooks:\n    - {name: x, type: pre-promotion, url: 'http://h/'}\n",
            source="goship.yaml",
        )
    (problem,) = info.value.details
    assert problem.startswith("goship.yaml:3:") and "confirm-promotion" in problem
