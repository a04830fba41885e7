"""Human rendering of ``goship version``: one row a module, and with --explain every commit's reason."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from goship.versioning.plan import ModuleVersion

_BUMP_STYLE = {"major": "bold red", "minor": "bold yellow", "patch": "green", "none": "dim"}


def render_versions(out: Console, versions: Sequence[ModuleVersion], *, explain: bool) -> None:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("module", "dir", "current", "next", "bump", "why"):
        table.add_column(col)
    for v in versions:
        table.add_row(
            v.module.path,
            v.module.dir,
            v.current.tag if v.current else "—",
            Text(v.next_tag or "—", style="bold" if v.next else "dim"),
            Text(v.bump, style=_BUMP_STYLE[v.bump]),
            _why(v),
        )
    out.print(table)
    for v in versions:
        if v.refusal is not None:
            out.print(Text.assemble(("refused: ", "bold red"), f"{v.module.dir}: {v.refusal.message}"))
            if v.refusal.hint:
                out.print(Text.assemble(("  hint: ", "cyan"), v.refusal.hint))
        for note in v.notes:
            out.print(Text.assemble(("note: ", "cyan"), f"{v.module.dir}: {note}"))
    if explain:
        for v in versions:
            _explain(out, v)


def _why(v: ModuleVersion) -> str:
    since = f"since {v.base.tag}" if v.base else "in all history"
    n = len(v.commits)
    if v.bump == "none":
        if n == 0:
            return f"no commits {since}"
        return f"no releasable commit {since} ({n} commit{'s' if n != 1 else ''}, none bumps)"
    deciding = next(cb for cb in v.commits if cb.bump == v.bump)
    return f"{n} commit{'s' if n != 1 else ''} {since}; {deciding.commit.sha[:7]} {deciding.reason}"


def _explain(out: Console, v: ModuleVersion) -> None:
    out.print()
    out.print(Text(f"{v.module.path} ({v.module.dir})", style="bold"))
    if not v.commits:
        out.print("  no commits to count")
    for cb in v.commits:
        out.print(
            Text.assemble(
                "  ",
                (cb.commit.sha[:7], "dim"),
                "  ",
                (f"{cb.bump:<5}", _BUMP_STYLE[cb.bump]),
                "  ",
                cb.commit.subject,
                (f"  ({cb.reason})", "dim"),
            )
        )
    for t in v.ignored_tags:
        out.print(Text.assemble("  ignored tag ", (t.tag, "bold"), f": {t.reason}"))
