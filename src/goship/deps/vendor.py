"""vendor/modules.txt, read and checked against go.mod the way the go command does it.

The format is what ``go mod vendor`` writes (cmd/go/internal/modcmd) and ``-mod=vendor`` reads
(cmd/go/internal/modload: ``readVendorList``, ``checkVendorConsistency``); lines are split on ``\\n``::

    # MODULE VERSION [=> REPLACEMENT [VERSION]]   a module version, possibly replaced
    # MODULE => REPLACEMENT [VERSION]             a wildcard (all versions) replace from go.mod
    ## explicit; go 1.N                           ';'-separated annotations of the module above
    IMPORT/PATH                                   a package vendored from the module above

The go command silently skips every line it does not understand; so does :func:`parse`, which lists them
in :attr:`VendorList.ignored` instead. :func:`check_consistency` makes the go command's consistency checks
for a single module (not a workspace) and reports one :class:`VendorFinding` per inconsistent module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from goship import semver
from goship.deps.gosum import GO_WHITESPACE, go_fields
from goship.errors import UsageError

__all__ = [
    "IgnoredLine",
    "IssueKind",
    "Replacement",
    "Requirement",
    "VendorError",
    "VendorFinding",
    "VendorIssue",
    "VendorList",
    "VendorModule",
    "check_consistency",
    "parse",
    "parse_file",
]

VENDOR_FILE = "vendor/modules.txt"
SYNC_HINT = "run 'go mod vendor' to rewrite vendor/ from go.mod (or build with -mod=mod to ignore vendor/)"


class VendorError(UsageError):
    """vendor/modules.txt cannot be read."""


# --- the model -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VendorModule:
    """What modules.txt says about one module version (Go merges repeated ``#`` lines; so does this)."""

    path: str
    """The module path."""
    version: str
    """The module version; ``""`` for a wildcard replacement line ``# MODULE => …``."""
    replacement_path: str = ""
    """The path or directory it is replaced by, ``""`` when not replaced."""
    replacement_version: str = ""
    """The version of a module replacement, ``""`` for a directory replacement or none."""
    explicit: bool = False
    """Whether a ``## explicit`` annotation says go.mod requires exactly this version."""
    go_version: str = ""
    """The module's ``go`` directive from its ``## go 1.N`` annotation (go ≥ 1.17 writes it), or ``""``."""
    packages: tuple[str, ...] = ()
    """The import paths vendored from it, in file order, without repeats."""
    line: int = 0
    """The 1-based line of its first ``#`` line."""

    @property
    def replaced(self) -> bool:
        """Whether modules.txt records a replacement for it."""
        return bool(self.replacement_path)

    def describe(self) -> str:
        """Its version, replacement and annotations, as in ``v1.0.0 => ../lib, explicit, go 1.21``."""
        parts = [self.version or "all versions"]
        if self.replaced:
            parts[0] += f" => {_target(self.replacement_path, self.replacement_version)}"
        if self.explicit:
            parts.append("explicit")
        if self.go_version:
            parts.append(f"go {self.go_version}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class IgnoredLine:
    """A non-blank line the go command skips without a word."""

    line: int
    """The 1-based line number."""
    text: str
    """The line, without its newline."""
    reason: str
    """Why the go command does not use it."""


@dataclass(frozen=True)
class VendorList:
    """vendor/modules.txt as the go command understands it."""

    modules: tuple[VendorModule, ...]
    """One entry per module version (path, version), in order of first appearance."""
    file: str = VENDOR_FILE
    """The name used in messages."""
    ignored: tuple[IgnoredLine, ...] = ()
    """Lines the go command skips, for gates that want to point at them."""
    build_keys: tuple[tuple[str, str], ...] = ()
    """Go's ``vendorList``: (path, version) of the modules that provide packages, newest per path, in the
    order they were found; a module version is added when one of its packages is listed and no equal or
    newer version of its path came before."""
    replaced_keys: tuple[tuple[str, str], ...] = ()
    """Go's ``vendorReplaced``: (path, version) of every ``#`` line with a replacement Go understood."""
    package_keys: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Import path → (path, version) of the module it is vendored from (the last one listing it)."""
    _by_key: Mapping[tuple[str, str], VendorModule] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    """The modules by (path, version)."""
    _selected: Mapping[str, str] = field(init=False, repr=False, compare=False, default_factory=dict)
    """Go's ``vendorVersion``: module path → the version the build uses."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", MappingProxyType({(m.path, m.version): m for m in self.modules}))
        object.__setattr__(self, "_selected", MappingProxyType(dict(self.build_keys)))

    def get(self, path: str, version: str) -> VendorModule | None:
        """The entry for ``path`` at ``version`` (``""``: its wildcard replacement line), or None."""
        return self._by_key.get((path, version))

    def versions_of(self, path: str) -> tuple[VendorModule, ...]:
        """Every entry for ``path``, wildcard line included, in file order."""
        return tuple(m for m in self.modules if m.path == path)

    def selected_version(self, path: str) -> str | None:
        """The version of ``path`` whose packages the build uses, or None if it provides no package."""
        return self._selected.get(path)

    @property
    def build_list(self) -> tuple[VendorModule, ...]:
        """The modules of :attr:`build_keys`."""
        return tuple(self._by_key[k] for k in self.build_keys)

    @property
    def replaced(self) -> tuple[VendorModule, ...]:
        """The modules of :attr:`replaced_keys`, each once."""
        return tuple(self._by_key[k] for k in dict.fromkeys(self.replaced_keys))

    def package_module(self, import_path: str) -> VendorModule | None:
        """The module a package is vendored from, or None."""
        key = self.package_keys.get(import_path)
        return None if key is None else self._by_key[key]


# --- reading ---------------------------------------------------------------------------------------


# Why the go command skips a line, for IgnoredLine.reason.
_SHORT_MODULE_LINE = "a module line needs '# MODULE VERSION' or '# MODULE => REPLACEMENT'"
_BAD_REPLACEMENT = "the replacement is not 'PATH' or 'PATH VERSION', so Go ignores it"
_TRAILING_TEXT = "text after the module is not '=> REPLACEMENT', so Go ignores it"
_NO_MODULE = "no module line above it"
_NOT_A_PACKAGE = "not a single valid import path"


@dataclass
class _Draft:
    """A module while its lines are being read."""

    line: int
    replacement: tuple[str, str] = ("", "")
    explicit: bool = False
    go_version: str = ""
    packages: dict[str, None] = field(default_factory=dict)


def parse(text: str, *, file: str = VENDOR_FILE) -> VendorList:
    """Read modules.txt's text as the go command does; it never refuses a line, so neither does this."""
    drafts: dict[tuple[str, str], _Draft] = {}
    ignored: list[IgnoredLine] = []
    build: list[tuple[str, str]] = []
    selected: dict[str, str] = {}
    replaced: list[tuple[str, str]] = []
    packages: dict[str, tuple[str, str]] = {}
    current: tuple[str, str] | None = None

    for lineno, line in enumerate(text.split("\n"), start=1):
        if line.startswith("# "):
            f = go_fields(line)
            if len(f) < 3:
                # Go skips the line but keeps the module above current, so packages below still count.
                ignored.append(IgnoredLine(lineno, line, _SHORT_MODULE_LINE))
                continue
            if semver.is_valid(f[2]):
                current, rest = (f[1], f[2]), f[3:]
            elif f[2] == "=>":
                current, rest = (f[1], ""), f[2:]
            else:
                current = None
                ignored.append(IgnoredLine(lineno, line, f"{f[2]!r} is neither a version nor '=>'"))
                continue
            draft = drafts.setdefault(current, _Draft(lineno))
            if len(rest) >= 2 and rest[0] == "=>":
                if len(rest) == 2:
                    draft.replacement = (rest[1], "")
                    replaced.append(current)
                elif len(rest) == 3 and semver.is_valid(rest[2]):
                    draft.replacement = (rest[1], rest[2])
                    replaced.append(current)
                else:
                    ignored.append(IgnoredLine(lineno, line, _BAD_REPLACEMENT))
            elif rest:
                ignored.append(IgnoredLine(lineno, line, _TRAILING_TEXT))
            continue

        if current is None:
            if go_fields(line):
                ignored.append(IgnoredLine(lineno, line, _NO_MODULE))
            continue
        draft = drafts[current]

        if line.startswith("## "):
            for raw in line[3:].split(";"):
                annotation = raw.strip(GO_WHITESPACE)
                if annotation == "explicit":
                    draft.explicit = True
                elif annotation.startswith("go "):
                    draft.go_version = annotation[3:]
                # Go reserves every other annotation for future use.
            continue

        f = go_fields(line)
        if len(f) == 1 and _is_import_path(f[0]):
            draft.packages[f[0]] = None
            packages[f[0]] = current
            path, version = current
            seen = selected.get(path)
            if seen is None or _mod_compare(path, seen, version) < 0:
                build.append(current)
                selected[path] = version
        elif f:
            ignored.append(IgnoredLine(lineno, line, _NOT_A_PACKAGE))

    modules = tuple(
        VendorModule(
            path=path,
            version=version,
            replacement_path=d.replacement[0],
            replacement_version=d.replacement[1],
            explicit=d.explicit,
            go_version=d.go_version,
            packages=tuple(d.packages),
            line=d.line,
        )
        for (path, version), d in drafts.items()
    )
    return VendorList(
        modules,
        file=file,
        ignored=tuple(ignored),
        build_keys=tuple(build),
        replaced_keys=tuple(replaced),
        package_keys=MappingProxyType(packages),
    )


def parse_file(path: str | Path) -> VendorList:
    """Read a modules.txt file; a missing file is an empty list, as for the go command."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return VendorList((), file=str(path))
    except OSError as exc:
        raise VendorError(f"{path}: cannot read vendor/modules.txt: {exc.strerror}") from exc
    # Go reads bytes; surrogateescape keeps invalid UTF-8 in place (and out of valid import paths).
    return parse(data.decode("utf-8", errors="surrogateescape"), file=str(path))


# --- checking against go.mod -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Requirement:
    """A ``require`` of the main module's go.mod."""

    path: str
    """The required module path."""
    version: str
    """The required version, as written."""
    line: int = 0
    """Its 1-based line in go.mod, 0 if unknown."""


@dataclass(frozen=True, slots=True)
class Replacement:
    """A ``replace`` of the main module's go.mod."""

    old_path: str
    """The module path replaced."""
    old_version: str
    """The version replaced, ``""`` for every version."""
    new_path: str
    """The replacement module path, or its directory (``../lib``) as written."""
    new_version: str
    """The replacement version, ``""`` for a directory."""
    line: int = 0
    """Its 1-based line in go.mod, 0 if unknown."""


IssueKind = Literal[
    "not-explicit", "version-differs", "not-replaced", "replacement-differs", "not-required", "not-in-go-mod"
]
"""The go command's complaints, in the order it checks them:

- ``not-explicit``: go.mod requires a version that modules.txt does not mark ``## explicit``;
- ``version-differs``: the same, for go < 1.14, where modules.txt vendors another version of the path;
- ``not-replaced``: go.mod replaces it, modules.txt records no replacement;
- ``replacement-differs``: both replace it, by different things;
- ``not-required``: modules.txt marks a version ``## explicit`` that go.mod does not require;
- ``not-in-go-mod``: modules.txt records a replacement that go.mod does not make.
"""


@dataclass(frozen=True, slots=True)
class VendorIssue:
    """One of the go command's complaints about a module."""

    kind: IssueKind
    """Which check failed."""
    version: str
    """The version it is about (``""``: all versions, a wildcard replace)."""
    text: str
    """What is wrong, for people."""


@dataclass(frozen=True, slots=True)
class VendorFinding:
    """Why the go command would call one module's vendoring inconsistent."""

    path: str
    """The module path."""
    go_mod: str
    """Its ``require`` and ``replace`` lines in go.mod, summarized; ``""`` when go.mod does not name it."""
    vendor: str
    """Its entries in modules.txt, summarized; ``""`` when modules.txt does not list it."""
    go_mod_lines: tuple[int, ...]
    """The go.mod lines that name it (requires, then replaces)."""
    vendor_lines: tuple[int, ...]
    """The modules.txt ``#`` lines that name it."""
    issues: tuple[VendorIssue, ...]
    """Each failed check, in the go command's order."""
    hint: str = SYNC_HINT
    """How to fix it."""

    @property
    def go_mod_line(self) -> int:
        """The first go.mod line that names the module, 0 if none."""
        return self.go_mod_lines[0] if self.go_mod_lines else 0

    @property
    def vendor_line(self) -> int:
        """The first modules.txt line that names the module, 0 if none."""
        return self.vendor_lines[0] if self.vendor_lines else 0

    @property
    def message(self) -> str:
        """One line for people: the module, what each side says, and what is wrong."""
        go_mod = self.go_mod or "nothing"
        vendor = self.vendor or "nothing"
        return f"{self} (go.mod: {go_mod}; modules.txt: {vendor})"

    def __str__(self) -> str:
        return f"{self.path}: " + "; ".join(i.text for i in self.issues)


def check_consistency(
    requires: Sequence[Requirement],
    replaces: Sequence[Replacement],
    vendor: VendorList,
    *,
    go_version: str,
    main_module: str = "",
    go_mod_file: str = "go.mod",
) -> list[VendorFinding]:
    """The go command's vendor consistency checks, one finding per module; ``[]`` when ``-mod=vendor`` works.

    ``go_version`` is go.mod's ``go`` directive (``""`` if it has none): below 1.14 modules.txt carried
    too little to check, so requirements are only compared with the vendored packages' versions.
    ``main_module`` is go.mod's module path; a wildcard replace of it has no effect in the go command.
    The go command does not compare ``## go`` annotations with go.mod, so neither does this; it only
    refuses one that is newer than itself ("requires go >= 1.N"), which is a toolchain matter, not vendoring.
    """
    pre114 = _gover_compare(go_version, "1.14") < 0
    txt = vendor.file
    issues: list[tuple[str, VendorIssue]] = []

    def complain(path: str, kind: IssueKind, version: str, text: str) -> None:
        issue = (path, VendorIssue(kind, version, text))
        if issue not in issues:
            issues.append(issue)

    required = {(r.path, r.version) for r in requires}
    for r in requires:
        entry = vendor.get(r.path, r.version)
        if entry is not None and entry.explicit:
            continue
        if not pre114:
            complain(
                r.path,
                "not-explicit",
                r.version,
                f"{go_mod_file} requires {r.version}, but {txt} does not mark {r.version} '## explicit'"
                + _listed(vendor, r.path),
            )
            continue
        # Before 1.14 modules.txt had no '## explicit'; only a contradicting vendored version shows.
        vendored = vendor.selected_version(r.path)
        if vendored is not None and vendored != r.version:
            complain(
                r.path,
                "version-differs",
                r.version,
                f"{go_mod_file} requires {r.version}, but {txt} vendors packages of {vendored}",
            )

    by_old: dict[tuple[str, str], Replacement] = {}
    for rep in replaces:
        # Two different replacements of one module make the go command stop before it looks at vendor/.
        by_old.setdefault((rep.old_path, rep.old_version), rep)

    def go_mod_replacement(path: str, version: str) -> Replacement | None:
        if path == main_module and not version:
            return None
        return by_old.get((path, version)) or by_old.get((path, ""))

    for path, version in by_old:
        new = go_mod_replacement(path, version)
        entry = vendor.get(path, version)
        old = version or "all versions"
        if entry is None or not entry.replaced:
            if new is None:
                continue
            # Before 1.14 modules.txt left out wildcard replaces and replaced modules without packages.
            if pre114 and (not version or vendor.selected_version(path) != version):
                continue
            complain(
                path,
                "not-replaced",
                version,
                f"{go_mod_file} replaces {old} by {_target(new.new_path, new.new_version)}, "
                f"but {txt} records no replacement for {old}",
            )
        elif new is None or (entry.replacement_path, entry.replacement_version) != (
            new.new_path,
            new.new_version,
        ):
            said = "nothing" if new is None else _target(new.new_path, new.new_version)
            complain(
                path,
                "replacement-differs",
                version,
                f"{go_mod_file} replaces {old} by {said}, "
                f"but {txt} records {_target(entry.replacement_path, entry.replacement_version)}",
            )

    for entry in vendor.build_list:
        if entry.explicit and (entry.path, entry.version) not in required:
            complain(
                entry.path,
                "not-required",
                entry.version,
                f"{txt} marks {entry.version} '## explicit', but {go_mod_file} does not require {entry.version}",
            )

    for entry in vendor.replaced:
        if go_mod_replacement(entry.path, entry.version) is None:
            complain(
                entry.path,
                "not-in-go-mod",
                entry.version,
                f"{txt} records {entry.describe()}, but {go_mod_file} has no replace for it",
            )

    return _group(issues, requires, replaces, vendor)


def _group(
    issues: list[tuple[str, VendorIssue]],
    requires: Sequence[Requirement],
    replaces: Sequence[Replacement],
    vendor: VendorList,
) -> list[VendorFinding]:
    """One finding per module path, in the order of each path's first issue."""
    by_path: dict[str, list[VendorIssue]] = {}
    for path, issue in issues:
        by_path.setdefault(path, []).append(issue)
    findings = []
    for path, found in by_path.items():
        reqs = [r for r in requires if r.path == path]
        reps = [r for r in replaces if r.old_path == path]
        said = [f"require {r.version}" for r in reqs]
        said += [
            f"replace {r.old_version or 'all versions'} => {_target(r.new_path, r.new_version)}" for r in reps
        ]
        entries = vendor.versions_of(path)
        findings.append(
            VendorFinding(
                path=path,
                go_mod="; ".join(said),
                vendor="; ".join(e.describe() for e in entries),
                go_mod_lines=tuple(
                    line for line in [*(r.line for r in reqs), *(r.line for r in reps)] if line
                ),
                vendor_lines=tuple(e.line for e in entries),
                issues=tuple(found),
            )
        )
    return findings


def _target(path: str, version: str) -> str:
    """A replacement as go.mod writes it: ``../lib`` or ``example.com/fork v1.2.0``."""
    return f"{path} {version}" if version else path


def _listed(vendor: VendorList, path: str) -> str:
    """What else modules.txt lists for ``path``, to make a missing version obvious."""
    listed = [e.version for e in vendor.versions_of(path) if e.version]
    return f" (it lists {', '.join(listed)})" if listed else " (it does not list the module)"


# --- Go's rules that modules.txt reading depends on ------------------------------------------------

# golang.org/x/mod/module.CheckImportPath: ASCII letters, digits and "-._~+" in non-empty elements.
_IMPORT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+")
_WINDOWS_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))]
)


def _is_import_path(path: str) -> bool:
    """Whether Go's ``module.CheckImportPath`` accepts ``path``."""
    if not path or path[0] == "-" or "//" in path or path[-1] == "/":
        return False
    return all(_is_import_elem(elem) for elem in path.split("/"))


def _is_import_elem(elem: str) -> bool:
    if not elem or elem.strip(".") == "" or elem[-1] == ".":
        return False
    if not _IMPORT_CHARS.issuperset(elem):
        return False
    # Windows reserves device names (with any extension) and "~N" short names; Go refuses them everywhere.
    short = elem.split(".", 1)[0]
    if short.upper() in _WINDOWS_NAMES:
        return False
    tilde = short.rfind("~")
    return not (0 <= tilde < len(short) - 1 and short[tilde + 1 :].isdigit())


def _mod_compare(path: str, v: str, w: str) -> int:
    """Go's ``gover.ModCompare`` for versions that are valid semver."""
    if path in ("go", "toolchain"):
        # These compare as Go toolchain versions, which never start with "v": all are equally invalid.
        return 0
    return semver.compare(v, w)


def _gover_parse(v: str) -> tuple[str, str, str, str, str] | None:
    """(major, minor, patch, kind, pre) of a Go version like 1.21.3 or 1.22rc1, as Go's ``gover.Parse``."""
    major, v = _cut_int(v)
    if major is None:
        return None
    if not v:
        return major, "0", "0", "", ""
    if v[0] != ".":
        return None
    minor, v = _cut_int(v[1:])
    if minor is None:
        return None
    if not v:
        # Since 1.21 "1.21" is the language and comes before "1.21.0"; before, "1.20" meant "1.20.0".
        return major, minor, "0" if _cmp_int(minor, "21") < 0 else "", "", ""
    if v[0] == ".":
        patch, v = _cut_int(v[1:])
        return None if patch is None or v else (major, minor, patch, "", "")
    # A prerelease: lower-case letters ("rc", "beta"), then an optional number.
    kind = v[: len(v) - len(v.lstrip("abcdefghijklmnopqrstuvwxyz"))]
    v = v[len(kind) :]
    if not kind or (v and v[0] not in _DIGITS):
        return None
    if not v:
        return major, minor, "", kind, ""
    pre, v = _cut_int(v)
    return None if pre is None or v else (major, minor, "", kind, pre)


_DIGITS = "0123456789"  # str.isdigit() also takes other scripts' digits, which Go does not


def _cut_int(v: str) -> tuple[str | None, str]:
    """A leading decimal without extra leading zeros, and the rest; None if there is none."""
    n = len(v) - len(v.lstrip(_DIGITS))
    if n == 0 or (v[0] == "0" and n != 1):
        return None, v
    return v[:n], v[n:]


def _cmp_int(x: str, y: str) -> int:
    if len(x) != len(y):
        return -1 if len(x) < len(y) else 1
    return (x > y) - (x < y)


def _gover_compare(x: str, y: str) -> int:
    """Go's ``gover.Compare``: invalid versions are below every valid one and equal to each other."""
    px, py = _gover_parse(x) or ("", "", "", "", ""), _gover_parse(y) or ("", "", "", "", "")
    for a, b in zip(px[:3], py[:3], strict=True):
        if c := _cmp_int(a, b):
            return c
    if px[3] != py[3]:
        return -1 if px[3] < py[3] else 1
    return _cmp_int(px[4], py[4])
