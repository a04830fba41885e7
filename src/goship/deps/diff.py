"""``goship deps diff``: what changed in every module's go.mod and go.sum between two revisions, each
requirement change classified (patch / minor / major, direct / indirect) and judged by the team's policy."""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from goship import semver
from goship.config import Action, DiffPolicyConfig
from goship.modfile import ModFile, parse
from goship.modules import Tree, discover_modules, go_mod_of

Kind = Literal["added", "removed", "upgraded", "downgraded"]
Level = Literal["major", "minor", "patch"]
_ACTION_ORDER: dict[Action, int] = {"allow": 0, "review": 1, "block": 2}


@dataclass(frozen=True)
class RequirementChange:
    """One requirement of one module that is new, gone, or at another version."""

    path: str
    """The module path now (before, for a removed requirement)."""
    kind: Kind
    old: str | None
    """The version before (``None`` when added)."""
    new: str | None
    """The version now (``None`` when removed)."""
    level: Level | None
    """How far an upgrade or downgrade moves; a ``/vN`` path change is major."""
    direct: bool
    """Required directly (not ``// indirect``)."""
    action: Action
    """What the policy says: allow, review or block."""
    why: str
    """The policy line that decided ``action``."""
    old_path: str | None = None
    """The path before, when a major upgrade moved it (``x/y`` → ``x/y/v2``)."""

    def describe(self) -> str:
        """``golang.org/x/net v0.30.0 → v0.31.0 (minor upgrade)``, ``x/y v1.2.0 (added)``."""
        if self.kind == "added":
            return f"{self.path} {self.new} (added)"
        if self.kind == "removed":
            return f"{self.path} {self.old} (removed)"
        old = f"{self.old_path} {self.old}" if self.old_path else self.old
        return f"{self.path} {old} → {self.new} ({self.level} {self.kind.removesuffix('d')})"


@dataclass(frozen=True)
class DirectiveChange:
    """A changed ``go`` or ``toolchain`` directive."""

    directive: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class RuleChange:
    """A ``replace``, ``exclude`` or ``retract`` line that appeared or went away."""

    directive: str
    change: Literal["added", "removed"]
    text: str


@dataclass(frozen=True)
class ModuleDiff:
    """The dependency changes of one Go module of the repository."""

    dir: str
    path: str
    status: Literal["added", "removed", "changed", "unchanged"]
    requirements: tuple[RequirementChange, ...] = ()
    directives: tuple[DirectiveChange, ...] = ()
    rules: tuple[RuleChange, ...] = ()
    sum_added_without_mod_change: tuple[str, ...] = ()
    """go.sum lines that appeared while go.mod's requirements stayed the same (worth a look)."""

    @property
    def action(self) -> Action:
        worst: Action = "review" if self.sum_added_without_mod_change else "allow"
        for r in self.requirements:
            if _ACTION_ORDER[r.action] > _ACTION_ORDER[worst]:
                worst = r.action
        return worst


@dataclass(frozen=True)
class DepsDiff:
    base: str
    head: str
    modules: tuple[ModuleDiff, ...]

    @property
    def action(self) -> Action:
        worst: Action = "allow"
        for m in self.modules:
            if _ACTION_ORDER[m.action] > _ACTION_ORDER[worst]:
                worst = m.action
        return worst

    @property
    def changed(self) -> tuple[ModuleDiff, ...]:
        return tuple(m for m in self.modules if m.status != "unchanged")


def diff_trees(base: Tree, head: Tree, policy: DiffPolicyConfig, *, exclude: Sequence[str] = ()) -> DepsDiff:
    """Compare every module's go.mod and go.sum in ``base`` and ``head``."""
    before = {m.dir: m for m in discover_modules(base, exclude=list(exclude), required=False)}
    after = {m.dir: m for m in discover_modules(head, exclude=list(exclude), required=False)}
    modules = []
    for dir in sorted(before.keys() | after.keys(), key=lambda d: (d != ".", d)):
        rel = go_mod_of(dir)
        old_text = base.read(rel) if dir in before else None
        new_text = head.read(rel) if dir in after else None
        sum_rel = rel[: -len("go.mod")] + "go.sum"
        modules.append(
            diff_module(
                dir,
                old=parse(old_text, file=f"{base.label}:{rel}") if old_text is not None else None,
                new=parse(new_text, file=f"{head.label}:{rel}") if new_text is not None else None,
                old_sum=base.read(sum_rel) or "",
                new_sum=head.read(sum_rel) or "",
                policy=policy,
            )
        )
    return DepsDiff(base=base.label, head=head.label, modules=tuple(modules))


def diff_module(
    dir: str,
    *,
    old: ModFile | None,
    new: ModFile | None,
    old_sum: str = "",
    new_sum: str = "",
    policy: DiffPolicyConfig,
) -> ModuleDiff:
    """The changes of one module between two parsed go.mod files (``None``: the module is not there)."""
    declared = (new or old).module if (new or old) is not None else None  # type: ignore[union-attr]
    path = declared.path if declared is not None else dir
    if old is None or new is None:
        status: Literal["added", "removed", "changed", "unchanged"] = "added" if old is None else "removed"
        return ModuleDiff(dir=dir, path=path, status=status)
    requirements = _requirement_changes(old, new, policy)
    directives = tuple(
        DirectiveChange(name, a, b)
        for name, a, b in (
            ("go", _go(old), _go(new)),
            (
                "toolchain",
                old.toolchain.name if old.toolchain else None,
                new.toolchain.name if new.toolchain else None,
            ),
        )
        if a != b
    )
    rules = _rule_changes(old, new)
    sum_added: tuple[str, ...] = ()
    if not requirements and not rules:
        before = {line.strip() for line in old_sum.splitlines() if line.strip()}
        sum_added = tuple(
            sorted(
                line.strip() for line in new_sum.splitlines() if line.strip() not in before and line.strip()
            )
        )
    changed = bool(requirements or directives or rules or sum_added)
    return ModuleDiff(
        dir=dir,
        path=path,
        status="changed" if changed else "unchanged",
        requirements=requirements,
        directives=directives,
        rules=rules,
        sum_added_without_mod_change=sum_added,
    )


def _requirement_changes(
    old: ModFile, new: ModFile, policy: DiffPolicyConfig
) -> tuple[RequirementChange, ...]:
    before = {r.path: r for r in old.require}
    after = {r.path: r for r in new.require}
    changes: list[RequirementChange] = []
    moved: dict[str, str] = {}  # new path -> old path, for x/y → x/y/v2
    gone = sorted(before.keys() - after.keys())
    for p in sorted(after.keys() - before.keys()):
        prefix, _major, _ok = semver.split_path_version(p)
        twin = next((q for q in gone if semver.split_path_version(q)[0] == prefix), None)
        if twin is not None:
            moved[p] = twin
            gone.remove(twin)
    for p in sorted(after.keys() | before.keys()):
        a, b = before.get(p), after.get(p)
        if b is not None and a is None and p in moved:
            a = before[moved[p]]
        if a is not None and b is None and p in moved.values():
            continue  # reported under its new path
        if a is None and b is not None:
            changes.append(_judge(p, "added", None, b.version, None, not b.indirect, policy))
        elif b is None and a is not None:
            changes.append(_judge(p, "removed", a.version, None, None, not a.indirect, policy))
        elif a is not None and b is not None and (a.version != b.version or a.path != b.path):
            kind: Kind = "upgraded" if semver.compare(b.version, a.version) > 0 else "downgraded"
            level = _level(a.version, b.version, path_moved=a.path != b.path)
            changes.append(
                _judge(
                    p,
                    kind,
                    a.version,
                    b.version,
                    level,
                    not b.indirect,
                    policy,
                    old_path=a.path if a.path != p else None,
                )
            )
    return tuple(changes)


def _level(old: str, new: str, *, path_moved: bool) -> Level:
    if path_moved or semver.major(old) != semver.major(new):
        return "major"
    if semver.major_minor(old) != semver.major_minor(new):
        return "minor"
    return "patch"


def _judge(
    path: str,
    kind: Kind,
    old: str | None,
    new: str | None,
    level: Level | None,
    direct: bool,
    policy: DiffPolicyConfig,
    *,
    old_path: str | None = None,
) -> RequirementChange:
    if any(
        fnmatch.fnmatchcase(path, pat) or (old_path and fnmatch.fnmatchcase(old_path, pat))
        for pat in policy.allow
    ):
        action: Action = "allow"
        why = "allowlisted in deps.diff.allow"
    elif not direct and not policy.judge_indirect:
        action, why = "allow", "indirect: follows from the direct requirements"
    elif kind == "added":
        action, why = policy.added, f"new requirement: deps.diff.added is {policy.added}"
    elif kind == "removed":
        action, why = policy.removed, f"requirement removed: deps.diff.removed is {policy.removed}"
    elif kind == "downgraded":
        action, why = policy.downgrade, f"downgrade: deps.diff.downgrade is {policy.downgrade}"
    else:
        assert level is not None
        action = getattr(policy, level)
        why = f"{level} upgrade: deps.diff.{level} is {action}"
    return RequirementChange(
        path=path,
        kind=kind,
        old=old,
        new=new,
        level=level,
        direct=direct,
        action=action,
        why=why,
        old_path=old_path,
    )


def _rule_changes(old: ModFile, new: ModFile) -> tuple[RuleChange, ...]:
    out: list[RuleChange] = []
    for directive, before, after in (
        ("replace", _replace_lines(old), _replace_lines(new)),
        (
            "exclude",
            {f"{e.path} {e.version}" for e in old.exclude},
            {f"{e.path} {e.version}" for e in new.exclude},
        ),
        ("retract", _retract_lines(old), _retract_lines(new)),
    ):
        out += [RuleChange(directive, "added", t) for t in sorted(after - before)]
        out += [RuleChange(directive, "removed", t) for t in sorted(before - after)]
    return tuple(out)


def _replace_lines(mod: ModFile) -> set[str]:
    lines = set()
    for r in mod.replace:
        left = f"{r.old_path} {r.old_version}".strip()
        right = f"{r.new_path} {r.new_version}".strip()
        lines.add(f"{left} => {right}")
    return lines


def _retract_lines(mod: ModFile) -> set[str]:
    return {r.low if r.low == r.high else f"[{r.low}, {r.high}]" for r in mod.retract}


def diff_json(diff: DepsDiff) -> dict[str, object]:
    """The ``goship deps diff --format json`` document."""
    return {
        "base": diff.base,
        "head": diff.head,
        "action": diff.action,
        "modules": [
            {
                "dir": m.dir,
                "path": m.path,
                "status": m.status,
                "action": m.action,
                "requirements": [dataclasses.asdict(c) for c in m.requirements],
                "directives": [dataclasses.asdict(d) for d in m.directives],
                "rules": [dataclasses.asdict(r) for r in m.rules],
                "sum_added_without_mod_change": list(m.sum_added_without_mod_change),
            }
            for m in diff.modules
        ],
    }


def _go(mod: ModFile) -> str | None:
    return mod.go.version if mod.go else None
