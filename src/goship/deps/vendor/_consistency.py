"""go.mod against vendor/modules.txt, as cmd/go/internal/modload's ``checkVendorConsistency`` checks them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from goship.deps.vendor._gorules import _gover_compare
from goship.deps.vendor._modules_txt import VendorList, _target

SYNC_HINT = "run 'go mod vendor' to rewrite vendor/ from go.mod (or build with -mod=mod to ignore vendor/)"


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


def _listed(vendor: VendorList, path: str) -> str:
    """What else modules.txt lists for ``path``, to make a missing version obvious."""
    listed = [e.version for e in vendor.versions_of(path) if e.version]
    return f" (it lists {', '.join(listed)})" if listed else " (it does not list the module)"
