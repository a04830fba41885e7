"""Rendering of ``goship deps check`` and ``goship deps diff``: text for terminals and logs, Markdown for
a pull-request comment."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from goship.deps.check import CheckReport
from goship.deps.diff import DepsDiff, RequirementChange

_LEVEL_STYLE = {"error": "bold red", "warn": "bold yellow"}
_ACTION_MARK = {"allow": "ok", "review": "REVIEW", "block": "BLOCKED"}
_ACTION_STYLE = {"allow": "green", "review": "bold yellow", "block": "bold red"}


def render_check(out: Console, report: CheckReport) -> None:
    for f in report.findings:
        out.print(
            Text.assemble(
                (f"{f.level:<5}", _LEVEL_STYLE[f.level]),
                "  ",
                (f"{f.rule:<13}", "bold"),
                f" {f.module}  ",
                (f.where, "cyan"),
                f"  {f.message}",
            )
        )
        if f.hint:
            out.print(Text.assemble("       ", ("hint: ", "cyan"), f.hint))
        if f.detail:
            for line in f.detail.splitlines():
                out.print(Text("         " + line, style="dim"))
    verdict = "failed" if report.errors else "passed"
    out.print(
        Text.assemble(
            (f"deps check {verdict}: ", "bold red" if report.errors else "bold green"),
            f"{len(report.modules)} module(s), {len(report.rules)} rule(s): "
            f"{report.errors} error(s), {report.warnings} warning(s)",
        )
    )


def render_diff_text(out: Console, diff: DepsDiff) -> None:
    out.print(Text(f"dependency changes from {diff.base} to {diff.head}", style="bold"))
    changed = diff.changed
    if not changed:
        out.print("no module's dependencies changed")
    for m in changed:
        out.print(
            Text.assemble(
                ("\n" + m.path, "bold"),
                f" ({m.dir})",
                f" — module {m.status}" if m.status != "changed" else "",
            )
        )
        for c in m.requirements:
            out.print(
                Text.assemble(
                    "  ",
                    (f"{_ACTION_MARK[c.action]:<8}", _ACTION_STYLE[c.action]),
                    f" {c.describe()}",
                    ("" if c.direct else "  [indirect]", "dim"),
                    (f"  ({c.why})", "dim"),
                )
            )
        for d in m.directives:
            out.print(f"  {d.directive}: {d.old or '(none)'} → {d.new or '(none)'}")
        for r in m.rules:
            out.print(f"  {r.directive} {r.change}: {r.text}")
        if m.sum_added_without_mod_change:
            out.print(
                Text.assemble(
                    "  ",
                    (f"{_ACTION_MARK['review']:<8}", _ACTION_STYLE["review"]),
                    f" go.sum gained {len(m.sum_added_without_mod_change)} line(s) while go.mod's requirements did not change",
                )
            )
            for line in m.sum_added_without_mod_change:
                out.print(Text("           " + line, style="dim"))
    out.print(Text.assemble(("\nverdict: ", "bold"), (diff.action, _ACTION_STYLE[diff.action])))


def diff_markdown(diff: DepsDiff) -> str:
    """A pull-request comment: one table per module, blocked and review items marked."""
    icon = {"allow": "✅", "review": "⚠️", "block": "⛔"}
    lines = [f"### Dependency changes ({diff.base} → {diff.head})", ""]
    changed = diff.changed
    if not changed:
        return "\n".join([*lines, "No dependency changes.", ""])
    verdict = {"allow": "all allowed", "review": "needs review", "block": "**blocked**"}[diff.action]
    lines += [f"Verdict: {icon[diff.action]} {verdict}", ""]
    for m in changed:
        lines += [
            f"#### `{m.path}` (`{m.dir}`){'' if m.status == 'changed' else ' — module ' + m.status}",
            "",
        ]
        if m.requirements:
            lines += ["| | module | change | type | why |", "|---|---|---|---|---|"]
            lines += [_markdown_row(c, icon[c.action]) for c in m.requirements]
            lines.append("")
        lines += [f"- `{d.directive}` {d.old or '(none)'} → {d.new or '(none)'}" for d in m.directives]
        lines += [f"- `{r.directive}` {r.change}: `{r.text}`" for r in m.rules]
        if m.sum_added_without_mod_change:
            lines.append(
                f"- {icon['review']} go.sum gained {len(m.sum_added_without_mod_change)} line(s) "
                "without a go.mod change"
            )
        lines.append("")
    return "\n".join(lines)


def _markdown_row(c: RequirementChange, mark: str) -> str:
    if c.kind in ("added", "removed"):
        change = f"{c.new or c.old} ({c.kind})"
    else:
        old = f"{c.old_path} {c.old}" if c.old_path else c.old
        change = f"{old} → {c.new}"
    kind = f"{c.level} {c.kind}" if c.level else c.kind
    return f"| {mark} | `{c.path}` | {change} | {kind}{'' if c.direct else ', indirect'} | {c.why} |"
