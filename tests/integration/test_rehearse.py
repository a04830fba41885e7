"""``goship rehearse`` and ``goship demo`` on the example service: real builds, real replicas behind
goship's router, real load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from goship.local.demo import make_demo_repo
from tests.conftest import GIT_ENV

pytestmark = pytest.mark.integration


def goship(cwd: Path, *args: str) -> tuple[int, dict[str, object], str]:
    done = subprocess.run(
        [sys.executable, "-m", "goship", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=os.environ,
        check=False,
    )
    doc = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    return done.returncode, doc, done.stderr


@contextmanager
def release_with(repo: Path, branch: str, old: str, new: str, message: str) -> Iterator[None]:
    """HEAD is v1.1.0 with ``old`` replaced by ``new`` in main.go, on ``branch``, until the block ends."""
    subprocess.run(["git", "checkout", "-q", "-b", branch, "v1.1.0"], cwd=repo, check=True)
    main = repo / "main.go"
    main.write_text(main.read_text().replace(old, new))
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "commit", "-qam", message], cwd=repo, check=True, env=env)
    try:
        yield
    finally:
        subprocess.run(["git", "checkout", "-q", "main"], cwd=repo, check=True)


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_repo(tmp_path_factory.mktemp("demo") / "hello").path


def rehearse(repo: Path, store: Path, old: str, new: str, *extra: str) -> tuple[int, dict[str, object], str]:
    return goship(repo, "rehearse", "--from", old, "--to", new, "--store", str(store), "--json", *extra)


def test_a_graceful_release_rolls_out_at_500_rps_with_no_failed_request(
    demo_repo: Path, tmp_path: Path
) -> None:
    code, report, err = rehearse(
        demo_repo, tmp_path / "store", "v1.0.0", "v1.1.0", "--rps", "500", "--env", "HELLO_SLOW_MS=20"
    )
    assert code == 0, err
    assert report["verdict"] == "pass"
    assert report["failed_requests"] == 0
    assert report["requests"] > 3000
    versions = report["versions"]
    assert isinstance(versions, dict) and set(versions) == {"v1.0.0", "v1.1.0"}
    kinds = [f["kind"] for f in report["findings"]]  # type: ignore[union-attr]
    assert "mixed-versions" in kinds and "drained" in kinds
    assert Path(str(report["html"])).is_file()


def test_a_release_that_drops_requests_on_sigterm_fails_with_the_cause(
    demo_repo: Path, tmp_path: Path
) -> None:
    code, report, err = rehearse(
        demo_repo, tmp_path / "store", "v1.1.0", "v1.2.0", "--env", "HELLO_SLOW_MS=200"
    )
    assert code == 1, err
    assert report["verdict"] == "fail"
    failures = report["failures"]
    assert isinstance(failures, list) and failures
    assert {(f["cause"], f["version"]) for f in failures} == {("reset", "v1.2.0")}
    assert any(f["kind"] == "dropped-on-sigterm" for f in report["findings"])  # type: ignore[union-attr]


def test_a_prestop_pause_lets_the_same_release_pass_as_a_cluster_with_that_pause_would(
    demo_repo: Path, tmp_path: Path
) -> None:
    # The release above exits at once on SIGTERM; out of the endpoints for 1 s first, nothing is in flight.
    code, report, err = rehearse(
        demo_repo, tmp_path / "store", "v1.1.0", "v1.2.0", "--env", "HELLO_SLOW_MS=200", "--pre-stop", "1"
    )
    assert code == 0, err
    assert report["failed_requests"] == 0
    drains = [f for f in report["findings"] if "SIGTERM" in f["message"]]  # type: ignore[union-attr]
    assert drains and {f["kind"] for f in drains} == {"drained"}
    assert any("v1.2.0" in f["message"] for f in drains)


def test_a_version_that_never_becomes_ready_is_undone_and_never_served(
    demo_repo: Path, tmp_path: Path
) -> None:
    with release_with(
        demo_repo, "never-ready", "HELLO_WARMUP_MS", "HELLO_WARMUP_MS_NEVER", "fix: never ready"
    ):
        code, report, err = rehearse(
            demo_repo,
            tmp_path / "store",
            "v1.1.0",
            "HEAD",
            "--env",
            "HELLO_WARMUP_MS_NEVER=600000",
            "--progress-deadline",
            "4",
        )
    assert code == 1, err
    assert report["findings"][0]["kind"] == "rollout-undone"  # type: ignore[index]
    assert report["failed_requests"] == 0
    assert set(report["versions"]) == {"v1.1.0"}  # type: ignore[arg-type]


def test_goship_demo_tells_the_story(tmp_path: Path) -> None:
    code, _, err = goship(tmp_path, "demo")
    assert code == 0, err
    assert "the story went as told" in err


def test_a_replica_killed_mid_rollout_is_replaced_and_its_requests_counted(
    demo_repo: Path, tmp_path: Path
) -> None:
    import signal

    from goship.cli._images import open_images
    from goship.gotool import Go
    from goship.local.rehearsal import Rehearsal, RehearsalSpec
    from goship.local.sides import resolve_side
    from goship.rollout.rolling import RolloutEvent

    images = open_images(names=[], platforms=[], store=tmp_path / "store", insecure=False, cwd=demo_repo)
    [service] = images.services
    old, new = (
        resolve_side(
            v,
            repo=images.session.repo,
            service=service,
            store=images.store,
            go_cache=True,
            open_registry=images.open_registry,
            unpack_dir=tmp_path / "rootfs",
        )
        for v in ("v1.0.0", "v1.1.0")
    )
    killed: list[int] = []

    class KillOneMidRollout(Rehearsal):
        def _rollout_event(self, event: RolloutEvent) -> None:
            super()._rollout_event(event)
            if event.kind == "scale" and not killed:
                victim = next(r for r in self.supervisor.replicas() if r.version == "v1.0.0" and r.pid)
                assert victim.pid is not None
                os.kill(victim.pid, signal.SIGKILL)
                killed.append(victim.pid)

    spec = RehearsalSpec(rps=300, env={"HELLO_SLOW_MS": "200"})
    report = KillOneMidRollout(
        old, new, spec, go=Go(demo_repo), work_dir=tmp_path / "work", bin_cache=tmp_path / "bin"
    ).run()
    assert killed
    doc = report.to_json()
    # The rollout still completes; the killed replica's in-flight requests show up as resets, not hidden.
    assert any(e["kind"] == "rollout-finished" and "complete" in e["message"] for e in doc["events"])
    assert doc["failed_requests"] > 0
    assert {f["cause"] for f in doc["failures"]} <= {"reset", "connect"}
    assert any(e["kind"] in ("crashed", "restarted") for e in doc["events"])


def test_canary_rehearsal_rolls_back_an_erroring_canary_and_explains_why(
    demo_repo: Path, tmp_path: Path
) -> None:
    # Only this version reads the failure rate the test sets for both: it answers 10 % of requests with 500s.
    with release_with(
        demo_repo, "erroring", '"HELLO_FAIL_RATE"', '"HELLO_FAIL_RATE_CANARY"', "fix: a bad canary"
    ):
        code, report, err = rehearse(
            demo_repo,
            tmp_path / "store",
            "v1.1.0",
            "HEAD",
            "--strategy",
            "canary",
            "--rps",
            "300",
            "--env",
            "HELLO_FAIL_RATE_CANARY=0.1",
        )
    assert code == 1, err
    assert report["verdict"] == "fail"
    findings = report["findings"]
    assert isinstance(findings, list)
    assert findings[0]["kind"] == "rollout-undone"
    analyses = [f["message"] for f in findings if f["kind"] == "canary-analysis"]
    assert analyses and "fail" in analyses[-1]
    assert all(m.startswith("step 1 at 20 %") for m in analyses)  # rolled back within its first step
