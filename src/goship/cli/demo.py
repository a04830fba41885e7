"""``goship demo``: the whole story on this machine in a couple of minutes."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Annotated, Literal

from goship.cli._app import Parameter


def demo(
    *,
    rps: float = 200.0,
    keep: Annotated[bool, Parameter(negative=())] = False,
) -> int:
    """Copy the example Go service into a temporary git repository, release v1.0.0, then rehearse three
    upgrades under load: v1.1.0 (a feature, rolled out with 0 failed requests), v1.2.0 (a release that
    no longer shuts down gracefully: the rehearsal catches the dropped requests) and v1.3.0 as a canary
    (it fails 10 % of its requests: the canary analysis rolls it back). Exit 0 when the story went as told.

    Parameters
    ----------
    rps
        Requests per second during the rehearsals.
    keep
        Keep the demo repository (its path is printed).

    Example: goship demo
    """
    from goship.cli._images import open_images
    from goship.cli.rehearse import run_rehearsal
    from goship.local.demo import make_demo_repo
    from goship.local.rehearsal import RehearsalSpec
    from goship.ui import console
    from goship.ui.rehearsal import render_summary

    out = console.stdout()
    scratch = Path(tempfile.mkdtemp(prefix="goship-demo-"))
    repo = make_demo_repo(scratch / "hello")
    console.info(f"demo repository: {repo.path} (tags {', '.join(repo.releases)})")
    images = open_images(names=[], platforms=[], store=scratch / "store", insecure=False, cwd=repo.path)
    # Requests take 200 ms, so every replica has some in flight when SIGTERM comes.
    spec = RehearsalSpec(rps=rps, env={"HELLO_SLOW_MS": "200"})
    expected = {"v1.1.0": "pass", "v1.2.0": "fail", "v1.3.0": "fail"}
    outcomes = {}
    story: tuple[tuple[str, str, Literal["rolling", "canary"]], ...] = (
        ("v1.0.0", "v1.1.0", "rolling"),
        ("v1.1.0", "v1.2.0", "rolling"),
        ("v1.1.0", "v1.3.0", "canary"),
    )
    for old, new, strategy in story:
        console.info(f"\n== rehearsing {old} → {new} ({strategy}) ==")
        started = time.monotonic()
        how = dataclasses.replace(spec, strategy=strategy)
        report, html = run_rehearsal(images, old, new, how, say=console.info)
        render_summary(out, report, html=html)
        console.info(f"({time.monotonic() - started:.0f} s)")
        outcomes[new] = report.verdict
    as_told = outcomes == expected
    console.info(
        "\n"
        + (
            "the story went as told: the feature rolled out cleanly, the release that drops requests was "
            "caught, and the canary that fails requests was rolled back by its analysis"
            if as_told
            else f"unexpected verdicts: {outcomes} (expected {expected})"
        )
    )
    if not keep:
        import shutil

        shutil.rmtree(repo.path, ignore_errors=True)
    return 0 if as_told else 1
