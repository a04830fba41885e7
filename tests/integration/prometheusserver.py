"""A real Prometheus for the metrics-source tests: Debian's ``prometheus`` (2.42) on a free loopback port with
a generated config that scrapes the given targets' ``/metrics`` every second, its TSDB in a temporary
directory, optionally behind Basic auth (``--web.config.file`` with a bcrypt hash made by ``htpasswd``),
stopped at the end.

The helpers here talk to Prometheus with plain httpx, not through goship's client, so that they stay an
independent view of what Prometheus holds.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.integration.registryserver import free_port, require, wait_until_serving

USERNAME = "ada"
PASSWORD = "prom-Pa55word-never-shown"
JOB = "goship-router"


@dataclass
class RunningPrometheus:
    """A started Prometheus and what a test needs to talk to it."""

    url: str
    """``http://127.0.0.1:<port>``."""
    workdir: Path
    """Config, TSDB and log."""
    log: Path
    """Its stderr, for failure messages."""
    basic_auth: tuple[str, str] | None = None
    """The one user and password when started with auth."""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(self.url + path, params=params, auth=self.basic_auth, timeout=5)

    def instant(self, promql: str) -> list[dict[str, Any]]:
        """The vector an instant query at Prometheus' now answers."""
        doc = self.get("/api/v1/query", query=promql).json()
        assert doc["status"] == "success", doc
        result: list[dict[str, Any]] = doc["data"]["result"]
        return result

    def last_scrape(self, job: str = JOB) -> float | None:
        """When ``job``'s newest scrape happened (its samples all carry that timestamp); ``None`` before any."""
        result = self.instant(f'timestamp(up{{job="{job}"}})')
        return float(result[0]["value"][1]) if result else None

    def scrape_after(self, moment: float, *, job: str = JOB, timeout: float = 10.0) -> float:
        """Wait for a scrape of ``job`` that started after ``moment`` (epoch seconds); its timestamp."""
        deadline = time.monotonic() + timeout
        while True:
            last = self.last_scrape(job)
            if last is not None and last > moment:
                return last
            assert time.monotonic() < deadline, f"no scrape of {job} after {moment} within {timeout}s"
            time.sleep(0.1)


def start_prometheus(
    workdir: Path, targets: Sequence[str], *, basic_auth: bool = False, scrape_interval_s: int = 1
) -> RunningPrometheus:
    """Start Prometheus scraping ``targets`` (``host:port``) as job ``goship-router``; returns once
    ``/-/ready`` answers 200."""
    program = require("prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n"
        f"  scrape_interval: {scrape_interval_s}s\n"
        f"  scrape_timeout: {scrape_interval_s}s\n"
        f"  evaluation_interval: {scrape_interval_s}s\n"
        "scrape_configs:\n"
        f"  - job_name: {JOB}\n"
        "    static_configs:\n"
        f"      - targets: [{', '.join(repr(t) for t in targets)}]\n"
    )
    extra: list[str] = []
    auth = None
    if basic_auth:
        line = subprocess.run(
            [require("htpasswd"), "-nbBC", "5", USERNAME, PASSWORD],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        web = workdir / "web.yml"
        web.write_text(f"basic_auth_users:\n  {USERNAME}: '{line.split(':', 1)[1]}'\n")
        extra.append(f"--web.config.file={web}")
        auth = (USERNAME, PASSWORD)
    running = RunningPrometheus(url="", workdir=workdir, log=workdir / "prometheus.log", basic_auth=auth)
    for _ in range(5):  # another process may take the free port between our look and Prometheus' bind
        port = free_port()
        running.url = f"http://127.0.0.1:{port}"
        argv = [
            program,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
            *extra,
        ]
        with running.log.open("ab") as log:
            running.process = subprocess.Popen(argv, stdout=log, stderr=log, cwd=workdir)
        if _wait_until_ready(running):
            return running
        running.stop()
    raise RuntimeError(f"prometheus did not start; its log:\n{running.log.read_text()[-3000:]}")


def _wait_until_ready(running: RunningPrometheus) -> bool:
    assert running.process is not None
    return wait_until_serving(running.process, lambda: running.get("/-/ready").status_code == 200, timeout=30)


@contextmanager
def prometheus_running(
    workdir: Path, targets: Sequence[str], *, basic_auth: bool = False
) -> Iterator[RunningPrometheus]:
    running = start_prometheus(workdir, targets, basic_auth=basic_auth)
    try:
        yield running
    finally:
        running.stop()
