"""The Go modules of a repository: where each lives, its module path and its tag prefix.

Go's rules (go.dev/ref/mod#vcs-version): a module in directory ``services/orders`` is released by tags
``services/orders/vX.Y.Z``; a module in a major-version subdirectory ``services/orders/v2`` uses the same
prefix (the ``/vN`` is dropped); the root module's tags have no prefix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from goship import semver
from goship.errors import UsageError
from goship.git import Git

_MODULE_LINE = re.compile(r"^\s*module\b(?P<rest>.*)$")
_MAJOR_DIR = re.compile(r"(^|/)v[0-9]+$")
# Characters Go allows in a module path (module.CheckImportPath); the main module is checked laxly.
_PATH_CHARS = re.compile(r"^[A-Za-z0-9.\-_~+/]+$")


@dataclass(frozen=True)
class Module:
    """One Go module of the repository."""

    path: str
    """The module path from go.mod's ``module`` line."""
    dir: str
    """Its directory relative to the repository root, ``.`` for the root module."""
    tag_prefix: str
    """What its release tags start with: ``""`` or ``services/orders/`` (tag = prefix + version)."""
    nested: tuple[str, ...] = ()
    """Directories of the modules inside this one, whose files are not this module's."""

    @property
    def path_major(self) -> str:
        """``/v2``, ``.v3`` (gopkg.in) or ``""``: the major version the module path promises."""
        _prefix, major, _ok = semver.split_path_version(self.path)
        return major

    def tag(self, version: str) -> str:
        return self.tag_prefix + version


def tag_prefix_for(dir: str) -> str:
    """The tag prefix of a module directory: the directory without a trailing ``/vN``, plus ``/``."""
    if dir == ".":
        return ""
    stripped = _MAJOR_DIR.sub("", dir)
    return f"{stripped}/" if stripped else ""


class Tree:
    """Where a repository's files are read from: the work tree, or a commit (``rev``)."""

    def __init__(self, git: Git, top: Path, *, rev: str | None = None) -> None:
        self.git = git
        self.top = top
        self.rev = rev

    @property
    def label(self) -> str:
        return self.rev or "the work tree"

    def go_mod_files(self) -> list[str]:
        if self.rev is None:
            # Tracked, and untracked but not ignored: a module being added counts before its commit.
            return self.git.files("go.mod", ":(glob)**/go.mod")
        return [f for f in self.git.files_at(self.rev) if f == "go.mod" or f.endswith("/go.mod")]

    def read(self, rel: str) -> str | None:
        """The text of ``rel`` (relative to the top), or ``None`` when there is no such file."""
        if self.rev is not None:
            return self.git.show(self.rev, rel)
        try:
            return (self.top / rel).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {rel}: {exc}") from exc


def go_mod_of(dir: str) -> str:
    """The go.mod path of a module directory, relative to the top."""
    return "go.mod" if dir == "." else f"{dir}/go.mod"


def discover_modules(tree: Tree, *, exclude: list[str] | None = None, required: bool = True) -> list[Module]:
    """Every go.mod outside ``vendor/`` and ``testdata/`` in ``tree``, root first."""
    skip = {d.strip("/") for d in exclude or []}
    texts: dict[str, str] = {}
    for file in tree.go_mod_files():
        parts = file.split("/")
        if any(p in ("vendor", "testdata") for p in parts[:-1]):
            continue
        dir = "/".join(parts[:-1]) or "."
        text = tree.read(file) if dir not in skip else None
        if text is not None:
            texts[dir] = text
    if not texts and required:
        raise UsageError(
            f"no Go module found in {tree.top} (no go.mod outside vendor/ and testdata/)",
            hint="goship releases Go modules: create one with 'go mod init example.com/yourmodule'",
        )
    dirs = sorted(texts, key=lambda d: (d != ".", d))
    return [
        Module(
            path=read_module_path(texts[dir], display=go_mod_of(dir)),
            dir=dir,
            tag_prefix=tag_prefix_for(dir),
            nested=tuple(d for d in dirs if d != dir and (dir == "." or d.startswith(dir + "/"))),
        )
        for dir in dirs
    ]


def select_modules(modules: Sequence[Module], wanted: Sequence[str]) -> list[Module]:
    """The modules named by directory (``./services/orders/`` is fine) or module path; all when none are."""
    if not wanted:
        return list(modules)
    chosen: list[Module] = []
    for raw in wanted:
        want = raw.strip().removeprefix("./").rstrip("/") or "."
        match = next((m for m in modules if want in (m.dir, m.path)), None)
        if match is None:
            known = ", ".join(m.dir for m in modules)
            raise UsageError(
                f"no Go module at {raw!r} (expected one of: {known})",
                hint="name a module by its directory relative to the repository root, or omit --module",
            )
        if match not in chosen:
            chosen.append(match)
    return chosen


def read_module_path(text: str, *, display: str) -> str:
    """The path of go.mod's ``module`` line; a clear error when there is none or it is malformed.

    Like x/mod's ``modfile.ModulePath``, a quick read of one line that leaves the rest of go.mod to the
    full parser (:mod:`goship.modfile`, whose import alone would double ``goship version``'s start-up).
    """
    for number, line in enumerate(text.splitlines(), start=1):
        m = _MODULE_LINE.match(line)
        if not m:
            continue
        rest = m.group("rest").split("//", 1)[0].strip()
        path = rest
        if len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in '"`':
            path = rest[1:-1]
        if not path or not _PATH_CHARS.match(path) or path.startswith("/") or path.endswith("/"):
            raise UsageError(
                f"{display}:{number}: malformed module line: expected 'module <path>' "
                f"(found {line.strip()!r})",
                hint="a module path looks like example.com/team/service (see 'go help gomod')",
            )
        if any(elem in ("", ".", "..") for elem in path.split("/")):
            raise UsageError(
                f"{display}:{number}: malformed module path {path!r}: empty, '.' or '..' path element",
                hint="a module path looks like example.com/team/service",
            )
        return path
    raise UsageError(
        f"{display}:1: no module line: expected 'module <path>' in {display}",
        hint="start go.mod with 'module example.com/yourmodule' (or run 'go mod init')",
    )
