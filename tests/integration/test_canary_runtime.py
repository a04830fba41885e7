"""``goship canary`` on the local runtime, end to end: a real daemon judging a real canary of the example
service behind goship's router, under real load — a healthy release promoted, one failing 5 % of its
requests rolled back in its first step, a canary whose daemon is killed sent back to stable by the router's
lease and finished by ``goship canary resume``."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from goship.git import Git
from goship.gotool import Go
from goship.local.demo import example_source
from goship.local.loadgen import LoadRun, LoadSpec
from goship.local.router import LeasedRouter, RouterClient, RouterProcess, ensure_router_binary
from goship.rollout.ports import TrafficRules
from tests.integration.test_runtime import Goship, gone, greeting, subreaper, wait_until

pytestmark = pytest.mark.integration

__all__ = ["subreaper"]  # the module-wide fixture that reaps the daemons these tests orphan

INTERVAL_S = 1.0
CANARY_YAML = f"""\
canary:
  steps: [5, 25, 50]
  interval: {INTERVAL_S:g}s
  min_requests: 10
  failure_threshold: 1
  step_deadline: 30s
  canary_replicas: 1
  # Few requests flow at 5 %: pass on 150 error-free canary requests (error rate below 3.1 % at 99 %).
  judge_settings: {{min_requests_to_pass: 150, negligible_error_rate: 0.031}}
"""


def make_repo(where: Path) -> Path:
    """The example service as v1.0.0, a friendlier v1.1.0, and a v1.2.0 that fails 5 % of its requests."""
    shutil.copytree(example_source(), where)
    git = Git(
        where,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@goship.invalid",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@goship.invalid",
        },
    )
    git.run("init", "-q", "-b", "main")
    (where / "goship.yaml").write_text(CANARY_YAML)
    main = where / "main.go"
    text = main.read_text()

    def release(message: str, tag: str) -> None:
        git.run("add", "-A")
        git.run("commit", "-q", "-m", message)
        git.run("tag", tag)

    release("feat: hello service", "v1.0.0")
    main.write_text(text.replace("hello from", "hi there from"))
    release("feat: a friendlier greeting", "v1.1.0")
    main.write_text(main.read_text().replace('os.Getenv("HELLO_FAIL_RATE")', '"0.05"'))
    release("feat: new pricing engine (5 % of its answers are 500s)", "v1.2.0")
    return where


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("canary") / "hello")


@pytest.fixture
def goship(repo: Path, tmp_path: Path) -> Iterator[Goship]:
    run = Goship(repo, tmp_path / "store")
    try:
        yield run
    finally:
        run("down")


def load(url: str, rps: float = 500) -> LoadRun:
    """Open-loop load on the router that stops by itself (or when the block ends)."""
    return LoadRun(LoadSpec(target=url, rps=rps, duration_s=120, users=50, timeout_s=2.0))


def event_time(canary: dict[str, Any], prefix: str) -> float:
    return next(e["time"] for e in canary["events"] if e["message"].startswith(prefix))


def router_config(state: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"http://{state['router']['admin']}/config", timeout=5).json()
    return data


def test_healthy_release_is_promoted_and_one_failing_5_percent_is_rolled_back_in_its_first_step(
    goship: Goship,
) -> None:
    code, doc, err = goship("up", "--version", "v1.0.0", "--replicas", "2", "--json")
    assert code == 0, err
    url = doc["router"]
    with load(url):
        code, doc, err = goship("canary", "start", "--to", "v1.1.0", "--wait", "--json")
        assert code == 0, err
        good = doc["canary"]
        assert (good["phase"], good["stable"], good["canary"]) == ("succeeded", "v1.0.0", "v1.1.0")
        shifts = [e["message"] for e in good["events"] if e["kind"] == "traffic"]
        assert shifts == [
            "v1.0.0 100 %, v1.1.0 0 %",
            "v1.0.0 95 %, v1.1.0 5 %",
            "v1.0.0 75 %, v1.1.0 25 %",
            "v1.0.0 50 %, v1.1.0 50 %",
            "v1.1.0 100 %",
        ]
        # Each step advanced on a passing analysis; none failed.
        assert [d["step"] for d in good["decisions"] if d["verdict"] == "pass"] == [0, 1, 2]
        assert "fail" not in {d["verdict"] for d in good["decisions"]}
        assert greeting(url) == "hi there from v1.1.0"

        code, doc, err = goship("canary", "start", "--to", "v9.9.9")
        assert code == 2 and "neither a git revision nor an image" in err, err

        code, doc, err = goship("canary", "start", "--to", "v1.2.0", "--wait", "--json")
        assert code == 1, err
        bad = doc["canary"]
        assert (bad["phase"], bad["stable"], bad["canary"]) == ("failed", "v1.1.0", "v1.2.0")
        # Rolled back within its first analysed step, at 5 %: no analysis at a later step.
        assert {d["step"] for d in bad["decisions"]} == {0}
        assert bad["decisions"][-1]["verdict"] == "fail"
        rollback_s = event_time(bad, "failed") - event_time(bad, "progressing: step 1/3")
        print(f"\nthe 5 % error release was rolled back {rollback_s:.1f}s after its first step began")
        assert rollback_s < 25
        assert [e["message"] for e in bad["events"] if e["kind"] == "traffic"][-1] == "v1.1.0 100 %"
        assert greeting(url) == "hi there from v1.1.0"

        # A canary paused, then aborted by a person: back to stable, its replicas gone.
        code, doc, err = goship("canary", "start", "--to", "v1.0.0", "--json")
        assert code == 0, err
        code, doc, err = goship("canary", "pause", "--json")
        assert code == 0 and doc["canary"]["paused"] is True, err
        code, text, err = _text(goship, "status")
        assert code == 0 and "canary: v1.0.0 against v1.1.0" in text and "paused" in text, (text, err)
        code, doc, err = goship("canary", "abort", "--reason", "changed my mind", "--json")
        assert code == 0, err
        assert (doc["canary"]["phase"], doc["canary"]["reason"]) == ("failed", "changed my mind")
        assert greeting(url) == "hi there from v1.1.0"
        wait_until(
            "the aborted canary's replicas to go",
            lambda: {r["version"] for r in goship.status()["replicas"]} == {"v1.1.0"},
        )

    # The decision log explains every canary, the earlier ones kept when the next began.
    code, doc, err = goship("canary", "explain", "--version", "v1.2.0", "--json")
    assert code == 0, err
    assert doc["canary"]["canary"] == "v1.2.0" and doc["canary"]["decisions"] == bad["decisions"]
    last = doc["canary"]["decisions"][-1]
    assert last["metric"] == "error rate and latency" and "goship-router GET /stats" in last["source"]
    assert (last["window_s"], last["judge"], last["weight"]) == (INTERVAL_S, "sequential", 5)
    assert last["samples"]["canary"] > 0 and last["samples"]["stable"] > last["samples"]["canary"]
    assert last["values"]["e_value"] >= last["values"]["fail_e_value"] == 100
    assert last["values"]["failure_threshold"] == 1 and last["values"]["canary_error_rate"] > 0
    code, doc, err = goship("canary", "explain", "--version", "v1.1.0", "--json")
    assert code == 0, err
    assert doc["canary"]["phase"] == "succeeded" and doc["canary"]["decisions"] == good["decisions"]
    code, text, err = _text(goship, "canary", "explain", "--version", "v1.2.0")
    assert "FAIL" in text and "rolling-back" in text and "e-value" in text, text

    code, doc, err = goship("canary", "promote")
    assert code == 2 and "nothing to promote: the canary of v1.0.0 has failed" in err, err
    code, doc, err = goship("canary", "status", "--json")
    assert code == 0, err
    assert doc["canary"]["canary"] == "v1.0.0" and doc["canary"]["phase"] == "failed"
    assert doc["judged"] is False and doc["runtime"] is True
    assert goship.status()["version"] == "v1.1.0"


def _text(goship: Goship, *args: str) -> tuple[int, str, str]:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "goship", *args, "--store", str(goship.store)],
        cwd=goship.repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def test_killed_mid_canary_traffic_returns_to_stable_within_the_lease_and_resume_finishes_it(
    goship: Goship,
) -> None:
    interval = 2.0
    code, doc, err = goship("up", "--version", "v1.0.0", "--replicas", "1", "--json")
    assert code == 0, err
    url = doc["router"]

    def phase() -> str:
        code, doc, err = goship("canary", "status", "--json")
        assert code == 0, err
        return str(doc["canary"]["phase"])

    # 60 requests/s: 60 canary requests per window at 50 %, so no analysis before the third can pass
    # (150 are needed) and the promote right after the start is refused.
    with load(url, rps=60):
        code, doc, err = goship(
            "canary", "start", "--to", "v1.1.0", "--steps", "50", "--interval", f"{interval:g}s",
            "--confirm-promotion", "--json",
        )  # fmt: skip
        assert code == 0, err
        assert doc["action"] == "started" and doc["canary"]["phase"] in ("initializing", "progressing")
        code, _, err = goship("canary", "promote")
        assert code in (1, 2) and ("expected the last analysis" in err or "still starting" in err), err
        code, _, err = goship("canary", "start", "--to", "v1.1.0")
        assert code == 2 and "already" in err, err
        assert "goship canary status" in err and "goship canary abort" in err, err

        # The manual gate holds the canary at 50 %, judged and on a lease, until it is killed.
        # Latency is judged too: the sign test needs ~8 comparable windows before it passes.
        wait_until("the canary to wait for promotion", lambda: phase() == "awaiting-promotion", timeout=90)
        state = goship.status()
        config = router_config(state)
        assert config["rules"]["weights"] == {"v1.0.0": 50, "v1.1.0": 50}
        lease = config["lease"]
        assert (lease["fallback"], lease["seconds"]) == ("v1.0.0", interval + 2.0)

        killed = time.monotonic()
        os.kill(state["pid"], signal.SIGKILL)
        wait_until(
            "traffic back to stable",
            lambda: router_config(state)["rules"]["weights"] == {"v1.0.0": 100},
            timeout=interval + 10,
        )
        back_s = time.monotonic() - killed
        print(f"\ntraffic back on stable {back_s:.1f}s after the daemon was killed (interval {interval:g}s)")
        assert back_s <= lease["seconds"] + 1.0
        expired = router_config(state)["lease_expired"]
        assert expired["fallback"] == "v1.0.0" and expired["weights"] == {"v1.0.0": 50, "v1.1.0": 50}
        assert {greeting(url) for _ in range(20)} == {"hello from v1.0.0"}
        assert gone(state["pid"])

        code, doc, err = goship("canary", "status", "--json")
        assert code == 0, err
        assert doc["canary"]["phase"] == "awaiting-promotion"
        assert doc["judged"] is False and doc["runtime"] is False
        code, _, err = goship("canary", "promote")
        assert code == 2 and "not running" in err and "goship canary resume" in err, err

        code, doc, err = goship("canary", "resume", "--json")
        assert code == 0, err
        assert doc["taken_over"] is True
        wait_until("the taken-over canary to pass its step again", lambda: phase() == "awaiting-promotion")
        code, doc, err = goship("canary", "promote", "--json")
        assert code == 0 and doc["phase"] == "promoting", err
        wait_until("the promotion", lambda: phase() == "succeeded")

        code, doc, err = goship("canary", "explain", "--json")
        assert code == 0, err
        messages = [e["message"] for e in doc["canary"]["events"]]
        assert any(m.startswith("taken over") for m in messages)
        assert "promoting: promotion confirmed" in messages
        after = goship.status()
        assert after["version"] == "v1.1.0" and after["pid"] != state["pid"]
        assert after["router"]["url"] == url  # the router came back on its address
        assert greeting(url) == "hi there from v1.1.0"


def test_commands_without_a_runtime_or_a_canary_say_what_to_do(goship: Goship) -> None:
    code, _, err = goship("canary", "start", "--to", "v1.1.0")
    assert code == 2, err
    assert "hello is not running here" in err and "goship up" in err
    code, doc, err = goship("canary", "status", "--json")
    assert (code, doc) == (0, {"canary": None, "judged": False, "runtime": False}), err
    for command in ("explain", "abort", "resume", "pause", "promote"):
        code, _, err = goship("canary", command)
        assert code == 2, (command, err)
        assert "no canary" in err, (command, err)
    code, _, err = goship("canary", "start", "--to", "v1.1.0", "--steps", "50,5")
    assert code == 2 and "ascending" in err, err


def test_the_router_holds_a_leased_split_while_renewed_and_falls_back_when_not(tmp_path: Path) -> None:
    binary = ensure_router_binary(Go(Path.cwd()), tmp_path / "bin")
    with RouterProcess.start(binary, run_dir=tmp_path / "router") as router, httpx.Client(timeout=5) as http:
        client = RouterClient(router.admin_url, http)
        leased = LeasedRouter(client, fallback="v1", lease_s=0.6)
        leased.apply(TrafficRules(weights={"v1": 90, "v2": 10}))
        for _ in range(4):
            time.sleep(0.3)
            leased.renew()
        assert client.config()["rules"]["weights"] == {"v1": 90, "v2": 10}
        time.sleep(1.0)
        config = client.config()
        assert config["rules"]["weights"] == {"v1": 100} and config["lease"] is None
        assert config["lease_expired"]["weights"] == {"v1": 90, "v2": 10}
        # A promotion (the fallback no longer named) holds without a lease.
        leased.apply(TrafficRules(weights={"v2": 100}))
        assert client.config()["lease"] is None
        time.sleep(0.8)
        assert client.config()["rules"]["weights"] == {"v2": 100}
