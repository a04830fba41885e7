"""Times ``goship version`` on large generated repositories, beside commitizen's ``cz bump --get-next``.

Scenarios and targets are described in ``benchmarks/README.md``; ``make bench`` runs this script.
Exit status: 0 when every target is met and the tools agree, 1 when a target is missed or the outputs
disagree, 2 when a tool is missing or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gitrepo

MONO_TARGET_SECONDS = 1.0
RATIO_TARGET = 0.5
COMMITIZEN_REFERENCE_SECONDS = 0.45
"""What ``cz bump --get-next`` took on the single-module repository when the targets were set."""
TIMEOUT_SECONDS = 300


class BenchError(Exception):
    """A tool is missing, failed, or printed something that is not an answer; the figures would lie."""


@dataclass(frozen=True)
class Timing:
    scenario: str
    tool: str
    samples: tuple[float, ...]
    stdout: str
    """Output of the last run (all runs are checked to exit 0)."""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def best(self) -> float:
        return min(self.samples)


def find_tool(name: str) -> Path:
    """The tool installed next to this interpreter (the venv's bin) first, then the one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if found is None:
        raise BenchError(
            f"{name!r} is neither next to {sys.executable} nor on PATH; run 'make bootstrap' (bench extra)"
        )
    return Path(found)


def installed_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a tool runs in as a user installed it: Python tools with their bytecode.

    pip compiles an installed package's bytecode; goship's development install is editable, and a
    caller's PYTHONDONTWRITEBYTECODE=1 would have it compile every module from source on every run while
    commitizen, installed normally, would not. So that variable is dropped and the bytecode goes to a
    cache outside the repository (PYTHONPYCACHEPREFIX), written by the warm-up runs."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(gitrepo.cache_root().parent / "bench-pycache")
    return env


def run_once(argv: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=installed_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise BenchError(f"{' '.join(argv)} exited {done.returncode} in {cwd}:\n{tail}")
    return elapsed, done


def measure(scenario: str, tool: str, argv: list[str], cwd: Path, *, runs: int, warmups: int) -> Timing:
    # Warm-up runs fill the page cache (pack, commit-graph, Python bytecode) so every tool starts warm.
    for _ in range(warmups):
        run_once(argv, cwd)
    samples: list[float] = []
    stdout = ""
    for _ in range(runs):
        elapsed, done = run_once(argv, cwd)
        samples.append(elapsed)
        stdout = done.stdout
    return Timing(scenario, tool, tuple(samples), stdout)


def plain_version(version: object) -> str | None:
    """``services/svc0/v1.2.3``, ``v1.2.3`` and ``1.2.3`` all become ``1.2.3``; ``None`` stays ``None``."""
    if version is None:
        return None
    return str(version).rsplit("/", 1)[-1].removeprefix("v")


def goship_modules(timing: Timing) -> list[dict[str, Any]]:
    try:
        modules = json.loads(timing.stdout)["modules"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchError(
            f"goship version --json printed no {{'modules': [...]}} object: {timing.stdout[:300]!r}"
        ) from exc
    if not isinstance(modules, list):
        raise BenchError(f"goship's 'modules' is a {type(modules).__name__}, expected a list")
    return modules


def compare_with_manifest(modules: list[dict[str, Any]], manifest: dict[str, Any]) -> list[str]:
    """Differences between goship's answer and what the generator tagged; each is a line for the report."""
    notes: list[str] = []
    expected = {str(m["path"]): m for m in manifest["modules"]}
    seen = {str(m.get("path")): m for m in modules}
    if missing := sorted(set(expected) - set(seen)):
        notes.append(f"goship did not report modules {missing}")
    if extra := sorted(set(seen) - set(expected)):
        notes.append(f"goship reported modules the repository does not have: {extra}")
    for path in sorted(set(expected) & set(seen)):
        want, got = expected[path], seen[path]
        if plain_version(got.get("current")) != plain_version(want["current"]):
            notes.append(
                f"{path}: goship's current is {got.get('current')}, the last tag is {want['current']}"
            )
        if plain_version(got.get("next")) != plain_version(want["expected_next"]):
            notes.append(
                f"{path}: goship's next is {got.get('next')} (bump {got.get('bump')}), commitizen's rules "
                f"give {want['expected_next']}"
            )
        if got.get("ignored_tags"):
            notes.append(f"{path}: goship ignored tags {got['ignored_tags']}")
    return notes


def root_module(modules: list[dict[str, Any]]) -> dict[str, Any]:
    for m in modules:
        if m.get("path") == "example.com/mono":
            return m
    raise BenchError(f"goship reported no root module example.com/mono: {[m.get('path') for m in modules]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (default 7)")
    parser.add_argument("--warmups", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached repositories")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1 (not {args.runs})")
    try:
        return _bench(runs=args.runs, warmups=args.warmups, regenerate=args.regenerate)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _bench(*, runs: int, warmups: int, regenerate: bool) -> int:
    goship = str(find_tool("goship"))
    cz = str(find_tool("cz"))

    mono = gitrepo.ensure(gitrepo.MONOREPO, regenerate=regenerate)
    single = gitrepo.ensure(gitrepo.SINGLE, regenerate=regenerate)
    for name, repo in (("mono", mono), ("single", single)):
        how = "generated now" if repo.generated else "cached; generation took"
        print(f"repo {name}: {repo.path} ({how} {repo.manifest['generation_seconds']} s)")
    goship_argv = [goship, "version", "--json"]
    cz_argv = [cz, "bump", "--get-next"]
    timings = [
        measure("mono", "goship", goship_argv, mono.path, runs=runs, warmups=warmups),
        measure("single", "goship", goship_argv, single.path, runs=runs, warmups=warmups),
        measure("single", "cz", cz_argv, single.path, runs=runs, warmups=warmups),
    ]
    mono_goship, single_goship, single_cz = timings

    labels = {
        "mono": "mono: 50k commits, 10 modules, 500 tags",
        "single": "single: 50k commits, 490 tags, 1k since tag",
    }
    print()
    print(f"{'scenario':<46} {'tool':<7} {'median':>9} {'min':>9} {'runs':>5}")
    for t in timings:
        print(f"{labels[t.scenario]:<46} {t.tool:<7} {t.median:>8.3f}s {t.best:>8.3f}s {len(t.samples):>5}")

    ratio = single_goship.median / single_cz.median
    mono_ok = mono_goship.median < MONO_TARGET_SECONDS
    ratio_ok = ratio <= RATIO_TARGET
    print()
    print(
        f"target  goship on mono < {MONO_TARGET_SECONDS:.1f} s: {mono_goship.median:.3f} s"
        f"  {'MET' if mono_ok else 'MISSED'}"
    )
    print(
        f"target  goship/cz on single <= {RATIO_TARGET:.2f}: {ratio:.2f}"
        f"  {'MET' if ratio_ok else 'MISSED'}"
        f"  (cz: {single_cz.median:.3f} s here, {COMMITIZEN_REFERENCE_SECONDS:.2f} s when the target was set)"
    )

    notes = [f"mono: {n}" for n in compare_with_manifest(goship_modules(mono_goship), mono.manifest)]
    single_modules = goship_modules(single_goship)
    notes += [f"single: {n}" for n in compare_with_manifest(single_modules, single.manifest)]
    goship_next = root_module(single_modules).get("next")
    cz_next = single_cz.stdout.strip()
    agree = plain_version(goship_next) == plain_version(cz_next)
    print()
    print(
        f"next version on single: goship {goship_next}, cz {cz_next or '(nothing)'}"
        f"  {'agree' if agree else 'DISAGREE'}"
    )
    for note in notes:
        print(f"note: {note}")
    return 0 if mono_ok and ratio_ok and agree and not notes else 1


if __name__ == "__main__":
    sys.exit(main())
