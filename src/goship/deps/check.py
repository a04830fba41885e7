"""``goship deps check``: one gate over every Go module of the repository, every rule named.

Static rules read go.mod (and vendor/modules.txt); the others ask the Go toolchain itself
(``go mod tidy -diff``, ``go mod verify``, ``go list`` against a scratch copy of go.mod/go.sum), so a
finding is what Go would say, located at the module, file and line it concerns.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from goship.config import DepsConfig, RuleConfig
from goship.deps.rules import CHECKS, Finding, RuleContext
from goship.errors import UsageError
from goship.gotool import Go
from goship.modfile import parse
from goship.modules import Module, go_mod_of


@dataclass(frozen=True)
class CheckReport:
    modules: tuple[str, ...]
    rules: tuple[str, ...]
    """The rules that ran (not off)."""
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return sum(f.level == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.level == "warn" for f in self.findings)


def check_modules(
    top: Path,
    modules: Sequence[Module],
    config: DepsConfig,
    *,
    go: Go,
    frozen: bool = False,
    only: Sequence[str] = (),
) -> CheckReport:
    """Run every rule that is not off (or only those in ``only``) on each module."""
    unknown = [r for r in only if r not in CHECKS]
    if unknown:
        raise UsageError(
            f"unknown rule {unknown[0]!r} (expected one of: {', '.join(CHECKS)})",
            hint="name rules as goship.yaml does under deps.rules",
        )
    selected = [r for r in CHECKS if (not only or r in only) and (r != "frozen" or frozen)]
    active = [r for r in selected if _rule(config, r).level != "off"]
    findings: list[Finding] = []
    for module in modules:
        rel = go_mod_of(module.dir)
        text = (top / rel).read_text(encoding="utf-8")
        ctx = RuleContext(module=module, top=top, mod=parse(text, file=rel), config=config, go=go)
        for rule in active:
            setting = _rule(config, rule)
            for f in CHECKS[rule](ctx):
                if _allowed(setting, f):
                    continue
                findings.append(_with_level(f, setting))
    return CheckReport(modules=tuple(m.path for m in modules), rules=tuple(active), findings=tuple(findings))


def _rule(config: DepsConfig, name: str) -> RuleConfig:
    setting: RuleConfig = getattr(config.rules, name)
    return setting


def _allowed(setting: RuleConfig, f: Finding) -> bool:
    names = [n for n in (f.subject, f.module) if n]
    return any(fnmatch.fnmatchcase(n, pat) for n in names for pat in setting.allow)


def _with_level(f: Finding, setting: RuleConfig) -> Finding:
    level: Literal["error", "warn"] = "warn" if setting.level == "warn" else "error"
    return dataclasses.replace(f, level=level)


__all__ = ["CheckReport", "Finding", "check_modules"]
