"""``goship up / status / rollout / rollout undo / down`` on the example service: a real daemon outliving
the commands, real replicas behind goship's router, real builds into a store."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from goship.local.demo import make_demo_repo

pytestmark = pytest.mark.integration

_PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture(scope="module", autouse=True)
def subreaper() -> None:
    """The daemon outlives the goship command that started it. Orphans go to the nearest subreaper, and
    the sandbox's pid 1 may never reap them: this test process does it, so an exited pid really is gone."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def gone(pid: int) -> bool:
    reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_until(what: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Goship:
    def __init__(self, repo: Path, store: Path) -> None:
        self.repo, self.store = repo, store

    def __call__(self, *args: str) -> tuple[int, dict[str, Any], str]:
        done = subprocess.run(
            [sys.executable, "-m", "goship", *args, "--store", str(self.store)],
            cwd=self.repo,
            capture_output=True,
            text=True,
            env=os.environ,
            check=False,
            timeout=300,
        )
        doc = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
        return done.returncode, doc, done.stderr

    def status(self) -> dict[str, Any]:
        code, doc, err = self("status", "--json")
        assert code == 0, err
        return doc


@pytest.fixture
def goship(tmp_path: Path) -> Iterator[Goship]:
    repo = make_demo_repo(tmp_path / "hello").path
    run = Goship(repo, tmp_path / "store")
    try:
        yield run
    finally:
        run("down")


def greeting(url: str) -> str:
    return httpx.get(url, timeout=5).text.strip()


def recorded_pids(state: dict[str, Any]) -> list[int]:
    return [state["pid"], state["router"]["pid"], *(r["pid"] for r in state["replicas"] if r["pid"])]


def test_up_status_rollout_undo_restart_and_down_from_separate_commands(goship: Goship) -> None:
    code, doc, err = goship("up", "--version", "v1.0.0", "--replicas", "2", "--dry-run", "--json")
    assert (code, doc) == (
        0,
        {"dry_run": True, "plan": "would start the runtime for hello with 2 × v1.0.0"},
    ), err
    assert goship.status()["running"] is False
    code, doc, err = goship("up", "--version", "v1.0.0", "--replicas", "2", "--json")
    assert code == 0, err
    assert doc["action"] == "started" and doc["rollout"]["state"] == "complete"
    url = doc["router"]
    state = goship.status()
    assert state["running"] and state["version"] == "v1.0.0" and state["desired_replicas"] == 2
    assert [(r["version"], r["ready"]) for r in state["replicas"]] == [("v1.0.0", True)] * 2
    assert greeting(url) == "hello from v1.0.0"
    pids = set(recorded_pids(state))
    code, doc, err = goship("rollout", "--to", "v1.1.0", "--dry-run", "--json")
    assert (code, doc["plan"]) == (0, "would roll hello out from v1.0.0 to v1.1.0"), err

    code, doc, err = goship("up", "--version", "v1.0.0", "--replicas", "2", "--json")
    assert code == 0, err
    assert doc["action"] == "none" and doc["rollout"] is None
    assert doc["status"]["pid"] == state["pid"]

    code, doc, err = goship("rollout", "--to", "v1.1.0", "--json")
    assert code == 0, err
    assert doc["rollout"]["state"] == "complete"
    assert {e["kind"] for e in doc["rollout"]["events"]} >= {"rollout", "scale", "complete"}
    assert greeting(url) == "hi there from v1.1.0"
    state = goship.status()
    assert [(r["version"], r["ready"]) for r in state["replicas"]] == [("v1.1.0", True)] * 2
    pids |= set(recorded_pids(state))

    code, doc, err = goship("rollout", "undo", "--json")
    assert code == 0, err
    assert doc["rollout"]["kind"] == "undo" and doc["rollout"]["state"] == "complete"
    assert greeting(url) == "hello from v1.0.0"
    state = goship.status()
    assert [(r["number"], r["version"], r["undo_of"]) for r in state["revisions"]] == [
        (1, "v1.0.0", None),
        (2, "v1.1.0", None),
        (3, "v1.0.0", 1),
    ]
    assert state["current_revision"] == 3

    # A replica killed outright is restarted. Until the supervisor sees it die, requests the router
    # sends it fail — visibly, with the router's own error, never as a wrong answer.
    victim = state["replicas"][0]
    os.kill(victim["pid"], signal.SIGKILL)
    answers = [httpx.get(url, timeout=5) for _ in range(20)]
    assert {(a.status_code, a.text.strip()) for a in answers if a.status_code == 200} == {
        (200, "hello from v1.0.0")
    }
    assert all(a.headers.get("X-Goship-Error") for a in answers if a.status_code != 200)

    def restarted() -> dict[str, Any] | None:
        now = {r["id"]: r for r in goship.status()["replicas"]}.get(victim["id"])
        return now if now and now["restarts"] >= 1 and now["ready"] else None

    again = wait_until("the killed replica to be restarted", restarted)
    assert again["pid"] != victim["pid"]
    assert greeting(url) == "hello from v1.0.0"
    state = goship.status()
    pids |= set(recorded_pids(state))

    code, _, err = goship("down")
    assert code == 0, err
    assert "stopped" in err
    still = [pid for pid in pids if not gone(pid)]
    assert still == []
    with pytest.raises(httpx.HTTPError):
        httpx.get(url, timeout=2)
    code, doc, err = goship("status", "--json")
    assert code == 0, err
    assert doc == {"running": False, "service": "hello"}


def test_a_dead_daemon_is_noticed_and_what_it_left_running_is_cleaned_up(goship: Goship) -> None:
    code, doc, err = goship("up", "--version", "v1.0.0", "--replicas", "1", "--json")
    assert code == 0, err
    state = doc["status"]
    os.kill(state["pid"], signal.SIGKILL)
    wait_until("the daemon to die", lambda: gone(state["pid"]))

    code, doc, err = goship("status", "--json")
    assert code == 0, err
    assert doc["running"] is False
    assert "no longer running" in err
    wait_until("the leftover router and replica to go", lambda: all(gone(p) for p in recorded_pids(state)))
