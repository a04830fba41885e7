"""Which directories of a Go module hold a ``package main``, found by reading the files as ``go list ./...``
would, without starting the go command (one ``go list`` costs 20 ms warm and up to 200 ms on an empty
build cache, on the critical path of every ``goship build``).

Go's rules, from go/build: ``./...`` walks the module's directories except its ``vendor``, ``testdata``, names
starting with ``_`` or ``.``, symbolic links and nested modules (a directory with its own go.mod). A file
counts when it ends in ``.go`` (not ``_test.go``, not starting with ``_`` or ``.``), its name's
``_GOOS``/``_GOARCH`` suffixes and its ``//go:build`` (else ``// +build``) constraint match the target,
and it does not ``import "C"`` (cgo files are ``CgoFiles``, never ``GoFiles``). The package's name is the
package clause of its first counted file.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

KNOWN_OS = frozenset(
    [
        "aix",
        "android",
        "darwin",
        "dragonfly",
        "freebsd",
        "hurd",
        "illumos",
        "ios",
        "js",
        "linux",
        "nacl",
        "netbsd",
        "openbsd",
        "plan9",
        "solaris",
        "wasip1",
        "windows",
        "zos",
    ]
)
KNOWN_ARCH = frozenset(
    [
        "386",
        "amd64",
        "amd64p32",
        "arm",
        "armbe",
        "arm64",
        "arm64be",
        "loong64",
        "mips",
        "mipsle",
        "mips64",
        "mips64le",
        "mips64p32",
        "mips64p32le",
        "ppc",
        "ppc64",
        "ppc64le",
        "riscv",
        "riscv64",
        "s390",
        "s390x",
        "sparc",
        "sparc64",
        "wasm",
    ]
)
UNIX_OS = frozenset(
    [
        "aix",
        "android",
        "darwin",
        "dragonfly",
        "freebsd",
        "hurd",
        "illumos",
        "ios",
        "linux",
        "netbsd",
        "openbsd",
        "solaris",
    ]
)
_OS_ALIASES = {"android": "linux", "illumos": "solaris", "ios": "darwin"}
"""A GOOS that also satisfies another's files and tags (go/build's ``matchTag``)."""


@dataclass(frozen=True)
class Target:
    """What a file's constraints are matched against."""

    goos: str
    goarch: str
    go_minor: int | None = None
    """The toolchain's release (26 for go1.26); None: every ``go1.N`` tag holds."""
    cgo: bool = False
    tags: frozenset[str] = frozenset()

    def has(self, tag: str) -> bool:
        if tag in (self.goos, self.goarch, "gc") or tag in self.tags:
            return True
        if tag == _OS_ALIASES.get(self.goos):
            return True
        if tag == "unix":
            return self.goos in UNIX_OS
        if tag == "cgo":
            return self.cgo
        if m := re.fullmatch(r"go1\.(\d+)", tag):
            return self.go_minor is None or int(m.group(1)) <= self.go_minor
        return False


@functools.cache
def host_target() -> Target:
    """This machine's GOOS/GOARCH and the release of the go on PATH (from its ``VERSION`` file); read once
    per process, not once per module."""
    machine = os.uname().machine.lower()
    goarch = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm"}.get(machine, machine)
    goos = os.uname().sysname.lower()
    minor = None
    if go := shutil.which("go"):
        version = Path(go).resolve().parent.parent / "VERSION"
        try:
            if m := re.match(r"go1\.(\d+)", version.read_text(encoding="utf-8", errors="replace")):
                minor = int(m.group(1))
        except OSError:
            pass
    return Target(goos=goos, goarch=goarch, go_minor=minor, cgo=False)


def name_matches(name: str, target: Target) -> bool:
    """The ``_GOOS``, ``_GOARCH`` and ``_GOOS_GOARCH`` suffixes of a file name (go/build ``goodOSArchFile``)."""
    stem = name.removesuffix(".go").removesuffix("_test")
    at = stem.find("_")
    if at < 0:
        return True
    parts = stem[at:].split("_")  # the part before the first "_" never constrains
    last = parts[-1]
    if len(parts) >= 3 and parts[-2] in KNOWN_OS and last in KNOWN_ARCH:
        return target.has(parts[-2]) and target.has(last)
    if last in KNOWN_OS:
        return target.has(last)
    if last in KNOWN_ARCH:
        return target.has(last)
    return True


# ----------------------------------------------------------------------------- build constraints

_TOKEN = re.compile(r"\s*(?:(&&|\|\||[!()])|([A-Za-z0-9_.]+))")


class _Expr:
    """A ``//go:build`` expression evaluated by recursive descent (go/build/constraint's grammar)."""

    def __init__(self, text: str, target: Target) -> None:
        self.tokens: list[str] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ValueError(f"bad //go:build expression: {text!r}")
            self.tokens.append(m.group(1) or m.group(2))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.at = 0
        self.target = target

    def value(self) -> bool:
        result = self._or()
        if self.at != len(self.tokens):
            raise ValueError("unexpected token")
        return result

    def _peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _or(self) -> bool:
        result = self._and()
        while self._peek() == "||":
            self.at += 1
            right = self._and()
            result = result or right
        return result

    def _and(self) -> bool:
        result = self._not()
        while self._peek() == "&&":
            self.at += 1
            right = self._not()
            result = result and right
        return result

    def _not(self) -> bool:
        token = self._peek()
        if token is None:
            raise ValueError("unexpected end")
        self.at += 1
        if token == "!":
            return not self._not()
        if token == "(":
            inner = self._or()
            if self._peek() != ")":
                raise ValueError("missing )")
            self.at += 1
            return inner
        if token in ("&&", "||", ")"):
            raise ValueError(f"unexpected {token}")
        return self.target.has(token)


def _plus_build(line: str, target: Target) -> bool:
    """One ``// +build`` line: space-separated options, each a comma-separated AND of maybe-negated tags."""
    for option in line.split():
        terms = option.split(",")
        if all((not target.has(t[1:])) if t.startswith("!") else target.has(t) for t in terms if t):
            return True
    return False


@dataclass(frozen=True)
class FileHeader:
    package: str | None
    """The package clause's name; None when the file has none (a broken file)."""
    matches: bool
    imports_c: bool


_PACKAGE = re.compile(r"package\s+([A-Za-z_][A-Za-z0-9_]*)")
_IMPORT_C = re.compile(
    r'^import\s+(?:[A-Za-z_.][A-Za-z0-9_]*\s+)?"C"|^import\s*\((?:[^)]*?\s)?"C"\s', re.M | re.S
)


def read_header(text: str, target: Target) -> FileHeader:
    """The package name, whether the build constraints hold, and whether the file imports "C"."""
    lines = text.splitlines()
    go_build: list[str] = []
    plus_build: list[str] = []
    in_block = False
    last_blank = -1
    package_at = -1
    candidates: list[tuple[int, str]] = []
    for i, raw in enumerate(lines):
        line = raw.strip()
        if in_block:
            if "*/" in line:
                in_block = False
                rest = line.split("*/", 1)[1].strip()
                if rest and not rest.startswith("//"):
                    line = rest
                else:
                    continue
            else:
                continue
        if not line:
            last_blank = i
            continue
        if line.startswith("//"):
            candidates.append((i, line))
            continue
        if line.startswith("/*"):
            if "*/" not in line[2:]:
                in_block = True
            continue
        package_at = i
        break
    # A //go:build line counts anywhere among the leading line comments; a "// +build" line only when a
    # blank line follows it, since the comment block touching the package clause is its documentation.
    for i, line in candidates:
        if m := re.match(r"//go:build(\s.*)?$", line):
            go_build.append((m.group(1) or "").strip())
        elif i < last_blank and (m := re.match(r"//\s*\+build(\s.*)?$", line)):
            plus_build.append((m.group(1) or "").strip())
    package = None
    if package_at >= 0 and (m := _PACKAGE.match(lines[package_at].strip())):
        package = m.group(1)
    try:
        if go_build:
            matches = _Expr(go_build[0], target).value()
        else:
            matches = all(_plus_build(line, target) for line in plus_build)
    except ValueError:
        matches = False  # go list reports such a file as invalid, never as a GoFile
    body = "\n".join(lines[package_at + 1 :]) if package_at >= 0 else ""
    return FileHeader(package=package, matches=matches, imports_c=bool(_IMPORT_C.search(body)))


# ----------------------------------------------------------------------------- walking a module


@dataclass(frozen=True)
class Package:
    rel: str
    """Slash-separated directory relative to the module root ("." for the root)."""
    name: str


def _walk(root: Path) -> Iterator[tuple[Path, list[str]]]:
    """Directories ``./...`` matches, with their file names; the module's vendor directory, testdata,
    ``_``/``.`` names, symbolic links and nested modules left out."""
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        names = [e.name for e in entries if e.is_file(follow_symlinks=True)]
        if directory != root and "go.mod" in names:
            continue
        yield directory, names
        for e in sorted(entries, key=lambda e: e.name, reverse=True):
            if not e.is_dir(follow_symlinks=False) or e.name.startswith(("_", ".")) or e.name == "testdata":
                continue
            if e.name == "vendor" and directory == root:  # only the module's own vendor directory
                continue
            stack.append(Path(e.path))


def packages(root: Path, target: Target) -> list[Package]:
    """Every package of the module at ``root`` that has Go files for ``target``, by directory."""
    found = []
    for directory, names in _walk(root):
        for name in sorted(names):
            if not name.endswith(".go") or name.endswith("_test.go") or name.startswith(("_", ".")):
                continue
            if not name_matches(name, target):
                continue
            try:
                text = (directory / name).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            header = read_header(text, target)
            if header.matches and not header.imports_c and header.package:
                rel = directory.relative_to(root).as_posix()
                found.append(Package(rel=rel, name=header.package))
                break
    return sorted(found, key=lambda p: p.rel)
