"""Builds large, deterministic git repositories of Go modules for the speed benchmarks.

History is streamed into one ``git fast-import`` process (format: git-fast-import(1)); repositories are
cached under ``${XDG_CACHE_HOME:-~/.cache}/goship-dev/bench-repos`` and rebuilt only when missing.
Run ``python benchmarks/gitrepo.py mono|single`` to build one and print its path.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Bump whenever the generated history changes, so cached repositories from older generators are not reused.
GENERATOR_VERSION = 2

MANIFEST = "goship-bench.json"
"""Written into ``.git/`` last: its presence marks a complete repository and it records what was built."""

_EPOCH = 1_600_000_000
_STEP_SECONDS = 600
_AUTHORS = (
    ("Ada Lovelace", "ada@example.com"),
    ("Grace Hopper", "grace@example.com"),
    ("Ken Thompson", "ken@example.com"),
    ("Rob Pike", "rob@example.com"),
    ("Robert Griesemer", "gri@example.com"),
)
# (type, weight); "" stands for a non-conventional message. Weights are percentages.
_KINDS = (("feat", 18), ("fix", 25), ("perf", 5), ("chore", 15), ("docs", 10), ("refactor", 12), ("", 15))
_VERBS = ("add", "handle", "support", "tidy", "speed up", "document", "rework", "guard", "drop", "log")
_NOUNS = ("retries", "timeouts", "config loading", "metrics", "auth", "cache", "shutdown", "pagination")
# No colon in these: commitizen's bump pattern is ``\w+...:``, so "fixup: x" would count as a fix.
_FREEFORM = (
    "Update README",
    "WIP",
    "fixed typo in handler",
    "Merge branch cleanup",
    "tweak tests",
    "bump deps",
)

_MAJOR, _MINOR, _PATCH = 3, 2, 1


@dataclass(frozen=True)
class RepoSpec:
    """What to generate; every field goes into the cache key."""

    name: str
    """Short scenario name, the first part of the cache directory name."""
    commits: int
    nested_modules: int
    """How many ``services/svcN`` modules besides the root one."""
    tags: int
    """Version tags in total, spread round-robin over the modules."""
    commits_after_last_tag: int
    """Commits between the newest tag (of any module) and HEAD."""
    tag_gaps: tuple[int, ...]
    """Commits from one tag to the next (of any module), cycled; uneven gaps give patch and minor releases."""
    tags_in_a_row: int
    """Consecutive tags per module before the next module's turn: 2 gives a release and its follow-up."""
    root_share: float
    """Fraction of commits that touch the root module (the rest are spread over nested modules)."""
    commitizen: bool
    """Commit a ``.cz.toml`` so ``cz bump --get-next`` can run in the repository."""
    seed: int = 20240601

    def tag_positions(self) -> list[int]:
        """Commit index (0-based, oldest first) of each tag, oldest first."""
        positions = [self.commits - 1 - self.commits_after_last_tag]
        for k in range(self.tags - 2, -1, -1):
            positions.append(positions[-1] - self.tag_gaps[k % len(self.tag_gaps)])
        if positions[-1] < 1:
            raise ValueError(f"{self.name}: {self.tags} tags do not fit into {self.commits} commits")
        return positions[::-1]

    def key(self) -> str:
        blob = json.dumps({"generator": GENERATOR_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


# Averages 100 commits per tag, as 50 000 commits / ~500 tags asks.
_GAPS = (5, 150, 40, 205)

MONOREPO = RepoSpec(
    name="mono",
    commits=50_000,
    nested_modules=9,
    tags=500,
    commits_after_last_tag=98,
    tag_gaps=_GAPS,
    tags_in_a_row=2,
    root_share=0.2,
    commitizen=False,
)
"""50 000 commits, 10 modules (root + ``services/svc0..8``), 50 tags each, the last 98 commits before HEAD."""

SINGLE = RepoSpec(
    name="single",
    commits=50_000,
    nested_modules=0,
    tags=490,
    commits_after_last_tag=1_000,
    tag_gaps=_GAPS,
    tags_in_a_row=1,
    root_share=1.0,
    commitizen=True,
)
"""50 000 commits of one module, 490 tags, the last one exactly 1 000 commits before HEAD."""

SPECS = {spec.name: spec for spec in (MONOREPO, SINGLE)}


@dataclass
class _Module:
    path: str
    """Go module path from ``go.mod``."""
    dir: str
    """Directory relative to the top, ``""`` for the root module."""
    tag_prefix: str
    version: tuple[int, int, int] | None = None
    pending: int = 0
    """Strongest increment (``_PATCH`` .. ``_MAJOR``) among this module's commits since its last tag."""
    tags: list[str] = field(default_factory=list)
    broke: bool = False


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "goship-dev" / "bench-repos"


@dataclass(frozen=True)
class Repo:
    path: Path
    manifest: dict[str, Any]
    """The JSON written next to the history: the spec, the generation time and each module's tags."""
    generated: bool
    """Built by this call rather than found in the cache."""


def ensure(spec: RepoSpec, *, regenerate: bool = False, log: bool = True) -> Repo:
    """The cached repository for ``spec``, generated first when missing."""
    target = cache_root() / f"{spec.name}-{spec.key()}"
    manifest_path = target / ".git" / MANIFEST
    if regenerate and target.exists():
        shutil.rmtree(target)
    if manifest_path.is_file():
        return Repo(target, json.loads(manifest_path.read_text()), generated=False)
    if target.exists():  # an interrupted earlier run
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the final place and rename, so a crash never leaves a half repository that looks whole.
    scratch = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    if log:
        print(f"generating {spec.name} repository ({spec.commits} commits) in {target} ...", file=sys.stderr)
    started = time.perf_counter()
    try:
        manifest = _build(spec, scratch)
        manifest["generation_seconds"] = round(time.perf_counter() - started, 2)
        (scratch / ".git" / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        try:
            scratch.rename(target)
        except OSError:
            if not (target / ".git" / MANIFEST).is_file():
                raise
            # Another benchmark process finished the same repository first; theirs is identical.
            shutil.rmtree(scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if log:
        print(f"generated {spec.name} in {manifest['generation_seconds']} s", file=sys.stderr)
    return Repo(target, json.loads(manifest_path.read_text()), generated=True)


def _build(spec: RepoSpec, top: Path) -> dict[str, Any]:
    top.mkdir(parents=True)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=top, env=env, check=True, stdout=subprocess.DEVNULL)

    git("init", "-q", "-b", "main")
    modules = _modules(spec)
    importer = subprocess.Popen(
        ["git", "fast-import", "--quiet", "--date-format=raw", "--done"],
        cwd=top,
        env=env,
        stdin=subprocess.PIPE,
    )
    assert importer.stdin is not None
    try:
        buffer: list[bytes] = []
        size = 0
        for chunk in _stream(spec, modules):
            buffer.append(chunk)
            size += len(chunk)
            if size > 1 << 20:  # fewer, larger writes keep the pipe (and Python) out of the way
                importer.stdin.write(b"".join(buffer))
                buffer, size = [], 0
        importer.stdin.write(b"".join(buffer))
        importer.stdin.close()
    except BrokenPipeError:
        pass  # fast-import died; its exit code and stderr say why
    if importer.wait() != 0:
        raise RuntimeError(f"git fast-import failed with exit code {importer.returncode}")
    git("reset", "-q", "--hard", "main")
    # Pack and write the commit-graph like a maintained clone, so timings reflect a repo people really have.
    git("gc", "-q", "--prune=now")
    return {
        "spec": asdict(spec),
        "modules": [
            {
                "path": m.path,
                "dir": m.dir,
                "tag_prefix": m.tag_prefix,
                "tags": len(m.tags),
                "current": m.tags[-1] if m.tags else None,
                "expected_next": _expected_next(m),
            }
            for m in modules
        ],
    }


def _modules(spec: RepoSpec) -> list[_Module]:
    root = _Module(path="example.com/mono", dir="", tag_prefix="")
    nested = [
        _Module(
            path=f"example.com/mono/services/svc{n}", dir=f"services/svc{n}", tag_prefix=f"services/svc{n}/"
        )
        for n in range(spec.nested_modules)
    ]
    return [root, *nested]


def _expected_next(m: _Module) -> str | None:
    """The next version by commitizen's default rules (refactor and perf count as patches)."""
    if m.version is None or not m.pending:
        return None
    return _format(_bump(m.version, m.pending))


def _bump(version: tuple[int, int, int], increment: int) -> tuple[int, int, int]:
    major, minor, patch = version
    if increment == _MAJOR:
        return (major + 1, 0, 0)
    if increment == _MINOR:
        return (major, minor + 1, 0)
    return (major, minor, patch + 1)


def _format(version: tuple[int, int, int]) -> str:
    return "v{}.{}.{}".format(*version)


def _stream(spec: RepoSpec, modules: list[_Module]) -> Iterator[bytes]:
    """The fast-import command stream: one commit per step, tags right after the commits they name."""
    rng = random.Random(spec.seed)
    kinds = [k for k, _ in _KINDS]
    weights = [w for _, w in _KINDS]
    tag_at = {i: j for j, i in enumerate(spec.tag_positions())}

    yield _commit(0, _initial_files(spec, modules), "chore: initial layout", parent=False)
    for i in range(1, spec.commits):
        m = modules[0] if rng.random() < spec.root_share or len(modules) == 1 else rng.choice(modules[1:])
        j = tag_at.get(i)
        tagged = None if j is None else modules[(j // spec.tags_in_a_row) % len(modules)]
        if tagged is not None:
            m = tagged  # a release commit belongs to the module it releases
        kind = rng.choices(kinds, weights)[0]
        scope = (
            m.dir.rsplit("/", 1)[-1] if m.dir and rng.random() < 0.5 else rng.choice(("", "", "api", "db"))
        )
        text = f"{rng.choice(_VERBS)} {rng.choice(_NOUNS)} #{i}"
        increment = 0
        # One breaking change per module, right after its second tag: v0.x -> v1.0.0, and never v2+
        # (which would need a /v2 module path).
        if len(m.tags) == 2 and not m.broke:
            m.broke = True
            increment = _MAJOR
            if rng.random() < 0.5:
                message = f"feat{f'({scope})' if scope else ''}!: {text}\n"
            else:
                message = f"feat: {text}\n\nBREAKING CHANGE: {rng.choice(_NOUNS)} now behave differently\n"
        elif kind == "":
            message = f"{rng.choice(_FREEFORM)}\n"
        else:
            message = f"{kind}{f'({scope})' if scope else ''}: {text}\n"
            if rng.random() < 0.2:
                message += f"\nLonger explanation of change {i}.\nSpanning two lines.\n"
            increment = {"feat": _MINOR, "fix": _PATCH, "perf": _PATCH, "refactor": _PATCH}.get(kind, 0)
        m.pending = max(m.pending, increment)
        subdir = f"{m.dir}/" if m.dir else ""
        path = f"{subdir}internal/pkg{i % 5}/file{i % 7}.go"
        content = f"package pkg{i % 5}\n\n// Revision is the last commit to touch it.\nconst Revision = {i}\n"
        yield _commit(i, {path: content}, message, parent=True)

        if j is not None and tagged is not None:
            yield _tag(i, j, tagged)
    yield b"done\n"  # with --done, a stream cut short by a crash here fails instead of importing half


def _initial_files(spec: RepoSpec, modules: list[_Module]) -> dict[str, str]:
    files = {"README.md": f"# {spec.name}\n\nGenerated by goship's benchmarks/gitrepo.py.\n"}
    for m in modules:
        subdir = f"{m.dir}/" if m.dir else ""
        files[f"{subdir}go.mod"] = f"module {m.path}\n\ngo 1.22\n"
        package = m.path.rsplit("/", 1)[-1]
        files[f"{subdir}doc.go"] = f"// Package {package} is benchmark filler.\npackage {package}\n"
    if spec.commitizen:
        files[".cz.toml"] = (
            "[tool.commitizen]\n"
            'name = "cz_conventional_commits"\n'
            'version_provider = "scm"\n'
            'tag_format = "v$version"\n'
        )
    return files


def _commit(i: int, files: dict[str, str], message: str, *, parent: bool) -> bytes:
    name, email = _AUTHORS[i % len(_AUTHORS)]
    when = f"{_EPOCH + i * _STEP_SECONDS} +0000"
    msg = message.encode()
    out = [
        b"commit refs/heads/main\n",
        f"mark :{i + 1}\n".encode(),
        f"author {name} <{email}> {when}\n".encode(),
        f"committer {name} <{email}> {when}\n".encode(),
        f"data {len(msg)}\n".encode(),
        msg,
        b"\n",
    ]
    if parent:
        out.append(f"from :{i}\n".encode())
    for path, content in files.items():
        data = content.encode()
        out.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode())
        out.append(data)
        out.append(b"\n")
    out.append(b"\n")
    return b"".join(out)


def _tag(i: int, j: int, m: _Module) -> bytes:
    """Tags commit ``i`` for module ``m``; every third tag is annotated, the rest lightweight."""
    if m.version is None:
        m.version = (0, 1, 0)
    else:
        m.version = _bump(m.version, m.pending or _PATCH)
    m.pending = 0
    name = f"{m.tag_prefix}{_format(m.version)}"
    m.tags.append(name)
    if j % 3:
        return f"reset refs/tags/{name}\nfrom :{i + 1}\n\n".encode()
    tagger, email = _AUTHORS[j % len(_AUTHORS)]
    msg = f"Release {name}\n".encode()
    return b"".join(
        [
            f"tag {name}\nfrom :{i + 1}\n".encode(),
            f"tagger {tagger} <{email}> {_EPOCH + i * _STEP_SECONDS + 60} +0000\n".encode(),
            f"data {len(msg)}\n".encode(),
            msg,
            b"\n",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("scenario", choices=sorted(SPECS))
    parser.add_argument("--regenerate", action="store_true", help="rebuild even when cached")
    args = parser.parse_args(argv)
    repo = ensure(SPECS[args.scenario], regenerate=args.regenerate)
    print(repo.path)
    print(json.dumps(repo.manifest["modules"], indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
