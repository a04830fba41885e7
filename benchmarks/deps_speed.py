"""Times goship's go.mod and go.sum parsers and ``goship deps diff`` on Kubernetes' own files, beside go.

The files come from the Go module proxy through ``go mod download`` (nothing else is fetched) and are
cached under ``${XDG_CACHE_HOME:-~/.cache}/goship-dev/bench-deps``; ``benchmarks/README.md`` lists the
figures. There is no target: exit 0 when everything ran and goship's answers match the go command's,
1 when they disagree (printed as ``note:`` lines), 2 when a tool or a download fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gitrepo
from version_speed import TIMEOUT_SECONDS, BenchError, Timing, find_tool, installed_env

from goship.deps import gosum
from goship.modfile import edit_json_text, parse_file

MODULE = "k8s.io/kubernetes"
LINES = ("v1.34", "v1.35")
"""The release lines compared by default: the newest patch of each."""
FALLBACK_MODULES = ("istio.io/istio", "github.com/prometheus/prometheus")
"""Large modules with a go.sum in their zip, tried in order when Kubernetes cannot be downloaded."""
MARKER = "goship-bench.json"
_RELEASE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
_NUMBERS = re.compile(r"^v(\d+)\.(\d+)\.(\d+)")
_MAJOR_SUFFIX = re.compile(r"/v\d+$")


def cache_root() -> Path:
    return gitrepo.cache_root().parent / "bench-deps"


@dataclass(frozen=True)
class Release:
    """One module version's go.mod and go.sum, extracted from what ``go mod download`` fetched."""

    module: str
    version: str
    go_mod: Path
    go_sum: Path
    download: dict[str, Any]
    """``zip_bytes``, ``seconds`` (of the ``go mod download`` that fetched it) and ``in_module_cache``
    (the zip was in GOMODCACHE already, so ``seconds`` is no download time)."""


def _slug(module: str) -> str:
    return module.replace("/", "_")


def _go(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # -mod=mod: the throwaway module has no go.sum, and go must not refuse to touch it.
    env = {**os.environ, "GOFLAGS": "-mod=mod"}
    done = subprocess.run(
        ["go", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise BenchError(f"go {' '.join(args)} exited {done.returncode}:\n{tail}")
    return done


def _throwaway_module() -> tempfile.TemporaryDirectory[str]:
    scratch = tempfile.TemporaryDirectory(prefix="goship-bench-deps-")
    Path(scratch.name, "go.mod").write_text("module bench.invalid/deps\n\ngo 1.21\n")
    return scratch


def versions(module: str, *, regenerate: bool) -> list[str]:
    """The module's versions as ``go list -m -versions`` gives them; cached so figures stay comparable."""
    cached = cache_root() / f"{_slug(module)}.versions.json"
    if cached.is_file() and not regenerate:
        return list(json.loads(cached.read_text()))
    with _throwaway_module() as scratch:
        listed = _go(["list", "-m", "-versions", module], Path(scratch)).stdout.split()[1:]
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(listed) + "\n")
    return listed


def newest_in_line(listed: list[str], line: str) -> str:
    """The newest release (no pre-release) in ``line`` (``v1.34``); a full version is taken as it is."""
    if line in listed:
        return line
    found = [v for v in listed if _RELEASE.match(v) and v.startswith(line + ".")]
    if not found:
        raise BenchError(f"no release in line {line} among {' '.join(listed[-12:])}")
    return max(found, key=lambda v: tuple(int(n) for n in _RELEASE.findall(v)[0]))


def newest_lines(listed: list[str]) -> tuple[str, str]:
    """The two newest release lines, e.g. ``("v1.34", "v1.35")``."""
    lines = sorted(
        {tuple(int(n) for n in m.groups()[:2]) for v in listed if (m := _RELEASE.match(v))}, reverse=True
    )
    if len(lines) < 2:
        raise BenchError(f"fewer than two release lines among {' '.join(listed)}")
    return (f"v{lines[1][0]}.{lines[1][1]}", f"v{lines[0][0]}.{lines[0][1]}")


def _zip_in_module_cache(module: str, version: str) -> Path:
    gomodcache = Path(
        subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True).stdout.strip()
    )
    escaped = re.sub(r"[A-Z]", lambda m: "!" + m.group().lower(), module)  # module.EscapePath
    return gomodcache / "cache" / "download" / escaped / "@v" / f"{version}.zip"


def fetch(module: str, version: str, *, regenerate: bool) -> Release:
    """go.mod and go.sum of ``module@version``, downloaded through the module proxy when not cached."""
    target = cache_root() / f"{_slug(module)}@{version}"
    record = target / "download.json"  # written last: its presence marks a complete extraction
    if regenerate and target.exists():
        shutil.rmtree(target)
    if not record.is_file():
        in_cache = _zip_in_module_cache(module, version).is_file()
        print(f"downloading {module}@{version} through the module proxy ...", file=sys.stderr)
        with _throwaway_module() as scratch:
            started = time.perf_counter()
            done = _go(["mod", "download", "-json", f"{module}@{version}"], Path(scratch))
            seconds = time.perf_counter() - started
        info = json.loads(done.stdout)
        zip_path, mod_path = Path(info["Zip"]), Path(info["GoMod"])
        member = f"{module}@{version}/go.sum"
        with zipfile.ZipFile(zip_path) as archive:
            if member not in archive.namelist():
                raise BenchError(f"{zip_path} has no {member}: {module} cannot serve as a go.sum input")
            go_sum = archive.read(member)
        target.mkdir(parents=True, exist_ok=True)
        (target / "go.mod").write_bytes(mod_path.read_bytes())
        (target / "go.sum").write_bytes(go_sum)
        download = {
            "zip_bytes": zip_path.stat().st_size,
            "seconds": round(seconds, 2),
            "in_module_cache": in_cache,
        }
        record.write_text(json.dumps({"module": module, "version": version, **download}, indent=2) + "\n")
    download = json.loads(record.read_text())
    return Release(module, version, target / "go.mod", target / "go.sum", download)


def ensure_repo(base: Release, head: Release, *, regenerate: bool) -> Path:
    """A git repository with two commits, tagged with the versions: base's go.mod/go.sum, then head's."""
    target = cache_root() / f"repo-{_slug(base.module)}-{base.version}-{head.version}"
    marker = target / ".git" / MARKER
    if regenerate and target.exists():
        shutil.rmtree(target)
    if marker.is_file():
        return target
    shutil.rmtree(target, ignore_errors=True)  # an interrupted earlier run
    scratch = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
    try:
        git = ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"]
        subprocess.run([*git, "init", "-q", "-b", "main"], cwd=scratch, env=env, check=True)
        for n, release in enumerate((base, head)):
            shutil.copyfile(release.go_mod, scratch / "go.mod")
            shutil.copyfile(release.go_sum, scratch / "go.sum")
            when = f"{1_700_000_000 + n * 86_400} +0000"
            stamp = {
                **env,
                **{
                    f"GIT_{who}_{what}": value
                    for who in ("AUTHOR", "COMMITTER")
                    for what, value in (("NAME", "Bench"), ("EMAIL", "bench@example.com"), ("DATE", when))
                },
            }
            subprocess.run([*git, "add", "go.mod", "go.sum"], cwd=scratch, env=env, check=True)
            message = f"{release.module} {release.version}: go.mod and go.sum"
            subprocess.run([*git, "commit", "-q", "-m", message], cwd=scratch, env=stamp, check=True)
            subprocess.run([*git, "tag", release.version], cwd=scratch, env=env, check=True)
        (scratch / ".git" / MARKER).write_text(
            json.dumps({"module": base.module, "base": base.version, "head": head.version}, indent=2) + "\n"
        )
        scratch.rename(target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return target


def run_timed(argv: list[str], cwd: Path, *, runs: int, warmups: int, ok: tuple[int, ...] = (0,)) -> Timing:
    """Wall time of ``argv`` as a user runs it; ``ok`` lists the exit codes that are answers, not failures."""
    samples: list[float] = []
    stdout = ""
    for n in range(warmups + runs):
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
        if done.returncode not in ok:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise BenchError(f"{' '.join(argv)} exited {done.returncode} in {cwd}:\n{tail}")
        if n >= warmups:
            samples.append(elapsed)
            stdout = done.stdout
    return Timing("", Path(argv[0]).name, tuple(samples), stdout)


def time_in_process(call: Callable[[], str], *, iterations: int, warmups: int) -> Timing:
    """Each call timed on its own, in this process: no interpreter start-up, imports already done."""
    for _ in range(warmups):
        call()
    samples: list[float] = []
    result = ""
    for _ in range(iterations):
        started = time.perf_counter()
        result = call()
        samples.append(time.perf_counter() - started)
    return Timing("", "goship", tuple(samples), result)


def first_difference(ours: str, theirs: str) -> str:
    for n, (a, b) in enumerate(zip(ours.splitlines(), theirs.splitlines(), strict=False), start=1):
        if a != b:
            return f"line {n}: goship {a!r}, go {b!r}"
    return f"goship has {len(ours.splitlines())} lines, go {len(theirs.splitlines())}"


def plain_split_entries(text: str) -> list[tuple[str, str, bool, str]]:
    """go.sum's hash lines by the simplest reading (ASCII white space), to check goship's parser against."""
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[2] != gosum.EMPTY_GO_MOD_HASH:
            path, version, digest = fields
            entries.append((path, version.removesuffix("/go.mod"), version.endswith("/go.mod"), digest))
    return entries


def expected_changes(old_json: str, new_json: str) -> set[tuple[Any, ...]]:
    """The requirement changes by the go command's own reading of both go.mod files (``go mod edit -json``).

    Deliberately independent of goship's code: levels come from the leading ``vX.Y.Z`` numbers, and a
    path gaining or losing a ``/vN`` suffix is one major change under the new path.
    """
    old = {r["Path"]: r for r in json.loads(old_json)["Require"] or []}
    new = {r["Path"]: r for r in json.loads(new_json)["Require"] or []}
    moved = {}
    for p in new.keys() - old.keys():
        twin = [q for q in old.keys() - new.keys() if _MAJOR_SUFFIX.sub("", q) == _MAJOR_SUFFIX.sub("", p)]
        if twin:
            moved[p] = twin[0]
    changes: set[tuple[Any, ...]] = set()
    for p in old.keys() | new.keys():
        a, b = old.get(p), new.get(p)
        if p in moved:
            a = old[moved[p]]
        if b is None and p in moved.values():
            continue
        if a is None:
            changes.add((p, None, b["Version"], None, not b.get("Indirect", False)))
        elif b is None:
            changes.add((p, a["Version"], None, None, not a.get("Indirect", False)))
        elif a["Version"] != b["Version"] or p in moved:
            x, y = (_NUMBERS.findall(v)[0] for v in (a["Version"], b["Version"]))
            level = "major" if p in moved or x[0] != y[0] else "minor" if x[1] != y[1] else "patch"
            changes.add((p, a["Version"], b["Version"], level, not b.get("Indirect", False)))
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command (default 15)")
    parser.add_argument("--warmups", type=int, default=2, help="untimed runs first (default 2)")
    parser.add_argument(
        "--iterations", type=int, default=300, help="timed in-process parses per file (default 300)"
    )
    parser.add_argument("--module", help=f"the module whose files to use (default {MODULE})")
    parser.add_argument(
        "--lines",
        nargs=2,
        metavar=("BASE", "HEAD"),
        help=f"release lines (or versions) to diff; default {' '.join(LINES)} for {MODULE}, else the two newest",
    )
    parser.add_argument("--regenerate", action="store_true", help="list versions, extract and build anew")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.iterations < 1:
        parser.error(f"--runs and --iterations must be at least 1 (not {args.runs}, {args.iterations})")
    try:
        return _bench(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _releases(args: argparse.Namespace) -> tuple[Release, Release, list[str]]:
    """The base and head releases, and why the default module was passed over (if it was)."""
    skipped: list[str] = []
    candidates = [args.module] if args.module else [MODULE, *FALLBACK_MODULES]
    for module in candidates:
        try:
            listed = versions(module, regenerate=args.regenerate)
            lines = args.lines or (LINES if module == MODULE else newest_lines(listed))
            base, head = (newest_in_line(listed, line) for line in lines)
            return (
                fetch(module, base, regenerate=args.regenerate),
                fetch(module, head, regenerate=args.regenerate),
                skipped,
            )
        except BenchError as exc:
            if module == candidates[-1]:
                raise
            skipped.append(f"{module} could not be used, fell back to the next module: {exc}")
            print(f"warning: {skipped[-1]}", file=sys.stderr)
    raise AssertionError("the loop returns or raises")


def _bench(args: argparse.Namespace) -> int:
    goship = str(find_tool("goship"))
    go = shutil.which("go")
    if go is None:
        raise BenchError("'go' is not on PATH")
    runs, warmups = args.runs, args.warmups
    base, head, skipped = _releases(args)
    root = cache_root()
    notes: list[str] = []

    print(f"module {head.module}: base {base.version}, head {head.version}; files cached in {root}")
    for r in (base, head):
        d = r.download
        fetched = "was already in GOMODCACHE" if d["in_module_cache"] else "downloaded"
        print(
            f"  {r.version}: zip {d['zip_bytes'] / 1e6:.1f} MB, go mod download {d['seconds']:.2f} s ({fetched}); "
            f"go.mod {r.go_mod.stat().st_size} B, go.sum {r.go_sum.stat().st_size} B"
        )

    # 1. One go.mod and one go.sum, goship beside the go command.
    mod_rel = str(head.go_mod.relative_to(root))  # as a user types it, from the directory above
    go_edit = run_timed([go, "mod", "edit", "-json", mod_rel], root, runs=runs, warmups=warmups)
    cli_parse = run_timed([goship, "deps", "parse", mod_rel, "--json"], root, runs=runs, warmups=warmups)
    startup = run_timed([goship, "--version"], root, runs=runs, warmups=warmups)
    mod_in = time_in_process(
        lambda: edit_json_text(parse_file(head.go_mod)), iterations=args.iterations, warmups=warmups * 10
    )
    parse_only = time_in_process(
        lambda: str(parse_file(head.go_mod).module_path), iterations=args.iterations, warmups=warmups * 10
    )
    parsed_sum = gosum.parse_file(head.go_sum)
    sum_in = time_in_process(
        lambda: str(len(gosum.parse_file(head.go_sum).entries)),
        iterations=args.iterations,
        warmups=warmups * 10,
    )
    rows = [
        ("go.mod", "goship in-process: parse_file + edit_json_text", mod_in),
        ("go.mod", "goship in-process: parse_file alone", parse_only),
        ("go.mod", "go mod edit -json FILE (subprocess)", go_edit),
        ("go.mod", "goship deps parse FILE --json (subprocess)", cli_parse),
        ("go.sum", "goship in-process: gosum.parse_file", sum_in),
        ("go.sum", "go: no command only reads go.sum", None),
        ("-", "goship --version (subprocess, start-up only)", startup),
    ]
    print()
    print(f"{'file':<7} {'tool':<48} {'median':>10} {'min':>10} {'runs':>5}")
    for file, tool, t in rows:
        if t is None:
            print(f"{file:<7} {tool:<48} {'-':>10} {'-':>10} {'-':>5}")
        else:
            print(f"{file:<7} {tool:<48} {t.median * 1e3:>8.3f}ms {t.best * 1e3:>8.3f}ms {len(t.samples):>5}")
    print(
        f"go.mod: goship in-process takes {mod_in.median / go_edit.median:.2f}x the time of go's subprocess;"
        f" of goship deps parse's {cli_parse.median * 1e3:.0f} ms, start-up alone (goship --version) takes"
        f" {startup.median * 1e3:.0f} ms"
    )

    for label, ours in (("in-process", mod_in.stdout), ("deps parse --json", cli_parse.stdout)):
        if ours == go_edit.stdout:
            print(
                f"go.mod JSON ({label}): byte for byte equal to go mod edit -json ({len(ours.encode())} bytes)"
            )
        else:
            notes.append(
                f"go.mod JSON ({label}) differs from go mod edit -json: {first_difference(ours, go_edit.stdout)}"
            )
    plain = plain_split_entries(head.go_sum.read_text())
    goship_entries = [(e.path, e.version, e.is_go_mod, e.hash) for e in parsed_sum.entries]
    if goship_entries == plain:
        print(f"go.sum: goship read {len(plain)} hash lines, the same as a plain split of each line")
    else:
        notes.append(f"go.sum: goship read {len(goship_entries)} entries, a plain split finds {len(plain)}")

    # 2. goship deps diff between the two releases.
    repo = ensure_repo(base, head, regenerate=args.regenerate)
    diff_argv = [goship, "deps", "diff", "--base", base.version, "--head", head.version, "--format", "json"]
    diff = run_timed(diff_argv, repo, runs=runs, warmups=warmups, ok=(0, 1))  # 1: a change is blocked
    print()
    print(f"goship deps diff --base {base.version} --head {head.version} --format json  in {repo}")
    print(f"  median {diff.median * 1e3:.1f} ms, min {diff.best * 1e3:.1f} ms, {len(diff.samples)} runs")
    try:
        document = json.loads(diff.stdout)
        (module,) = document["modules"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"goship deps diff printed no one-module document: {diff.stdout[:300]!r}") from exc
    changes = module["requirements"]
    direct = sum(1 for c in changes if c["direct"])
    print(
        f"  action {document['action']}; {len(changes)} requirement changes"
        f" ({direct} direct, {len(changes) - direct} indirect)"
    )
    by = Counter((c["level"] or c["kind"], c["direct"]) for c in changes)
    print(f"  {'change':<12} {'direct':>7} {'indirect':>9}")
    for kind in ("major", "minor", "patch", "added", "removed"):
        print(f"  {kind:<12} {by[(kind, True)]:>7} {by[(kind, False)]:>9}")
    if downgrades := [c["path"] for c in changes if c["kind"] == "downgraded"]:
        print(f"  of which downgrades: {', '.join(downgrades)}")
    for d in module["directives"]:
        print(f"  {d['directive']} directive: {d['old']} -> {d['new']}")
    print(f"  replace/exclude/retract lines changed: {len(module['rules'])}")
    old_sum, new_sum = (
        {ln.strip() for ln in r.go_sum.read_text().splitlines() if ln.strip()} for r in (base, head)
    )
    print(f"  go.sum: {len(new_sum - old_sum)} lines added, {len(old_sum - new_sum)} removed")

    base_json = run_timed([go, "mod", "edit", "-json", str(base.go_mod)], root, runs=1, warmups=0).stdout
    want = expected_changes(base_json, go_edit.stdout)
    got = {(c["path"], c["old"], c["new"], c["level"], c["direct"]) for c in changes}
    if got == want:
        print("  the changes match go mod edit -json of both go.mod files")
    else:
        for extra in sorted(got - want, key=str):
            notes.append(f"deps diff reports {extra}, go's requirements do not give it")
        for missing in sorted(want - got, key=str):
            notes.append(f"deps diff misses {missing} (path, old, new, level, direct)")

    for line in skipped:
        print(f"fallback: {line}")
    for note in notes:
        print(f"note: {note}")
    return 1 if notes else 0


if __name__ == "__main__":
    sys.exit(main())
