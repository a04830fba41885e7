"""``goship deps``: the dependency gates — check every module, diff two revisions, parse a go.mod."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Literal

from goship.cli._app import App, Parameter
from goship.errors import UsageError

app = App(name="deps", help="Dependency gates: check go.mod/go.sum/vendor, diff two revisions, parse go.mod.")


@app.command
def check(
    *,
    module: Annotated[list[str] | None, Parameter(name=["--module", "-m"], negative=())] = None,
    rule: Annotated[list[str] | None, Parameter(negative=())] = None,
    frozen: Annotated[bool, Parameter(negative=())] = False,
    frozen_command: str | None = None,
    json: Annotated[bool, Parameter(negative=())] = False,
) -> int:
    """Check every Go module: tidy, verify, sum complete, no local replace, pinned, exclude, vendor,
    go/toolchain policy, and with --frozen that building does not change go.mod or go.sum.

    Exit 1 when a rule at level 'error' fires (levels and allowlists: deps.rules in goship.yaml).

    Parameters
    ----------
    module
        Only this module (directory relative to the repository root, or module path); repeatable.
    rule
        Only this rule (tidy, verify, sum_complete, local_replace, pinned, exclude, vendor, go_version,
        toolchain, frozen); repeatable.
    frozen
        Also run a go command (deps.frozen_command, default 'go build ./...') and fail if it changed go.mod
        or go.sum (they are restored afterwards).
    frozen_command
        The go command for --frozen, e.g. 'go test ./...'.
    json
        Print one JSON document: {"ok", "errors", "warnings", "modules", "rules", "findings": [{"rule",
        "level", "module", "file", "line", "message", "hint", "detail", "subject"}]}.

    Example: goship deps check --frozen
    """
    from goship.cli._session import open_workspace
    from goship.deps.check import check_modules
    from goship.gotool import Go
    from goship.modules import Tree, discover_modules, select_modules
    from goship.ui import console

    ws = open_workspace()
    config = ws.config.deps
    if frozen_command is not None:
        config = dataclasses.replace(config, frozen_command=frozen_command)
    modules = select_modules(
        discover_modules(Tree(ws.top_git(), ws.top), exclude=ws.config.modules.exclude), module or []
    )
    report = check_modules(ws.top, modules, config, go=Go(ws.top), frozen=frozen, only=rule or [])
    if json:
        console.print_json(
            {
                "ok": report.errors == 0,
                "errors": report.errors,
                "warnings": report.warnings,
                "modules": list(report.modules),
                "rules": list(report.rules),
                "findings": [dataclasses.asdict(f) for f in report.findings],
            }
        )
    else:
        from goship.ui.deps import render_check

        render_check(console.stdout(), report)
    return 1 if report.errors else 0


@app.command
def diff(
    *,
    base: str,
    head: str | None = None,
    format: Literal["text", "markdown", "json"] = "text",
) -> int:
    """List every dependency change of every module between two revisions, judged by the policy
    (deps.diff in goship.yaml: patch allowed, minor needs review, major blocked unless allowlisted).

    Exit 1 when a change is blocked.

    Parameters
    ----------
    base
        The revision to compare with, e.g. origin/main or v1.4.0.
    head
        The revision to compare (default: the work tree, uncommitted changes included).
    format
        text for people, markdown for a pull-request comment, json for programs.

    Example: goship deps diff --base origin/main --format markdown
    """
    from goship.cli._session import open_workspace
    from goship.deps.diff import diff_json, diff_trees
    from goship.modules import Tree
    from goship.ui import console

    ws = open_workspace()
    git = ws.top_git()
    for name, rev in (("--base", base), ("--head", head)):
        if rev is not None and git.rev_parse(rev) is None:
            raise UsageError(
                f"{name} {rev!r} names no commit in this repository",
                hint="give a branch, tag or commit (in CI, fetch the base branch first: 'git fetch origin main')",
            )
    result = diff_trees(
        Tree(git, ws.top, rev=base),
        Tree(git, ws.top, rev=head),
        ws.config.deps.diff,
        exclude=ws.config.modules.exclude,
    )
    if format == "json":
        console.print_json(diff_json(result))
    elif format == "markdown":
        from goship.ui.deps import diff_markdown

        print(diff_markdown(result), end="")
    else:
        from goship.ui.deps import render_diff_text

        render_diff_text(console.stdout(), result)
    return 1 if result.action == "block" else 0


@app.command
def parse(
    file: Path = Path("go.mod"),
    /,
    *,
    lax: Annotated[bool, Parameter(negative=())] = False,
    json: Annotated[bool, Parameter(negative=())] = False,
) -> int:
    """Parse a go.mod file; with --json print the same document as 'go mod edit -json FILE'.

    Parameters
    ----------
    file
        The go.mod file (default: ./go.mod).
    lax
        Parse as Go parses a dependency's go.mod: ignore what only the main module may say.
    json
        Print 'go mod edit -json' output.

    Example: goship deps parse go.mod --json
    """
    from goship.modfile import edit_json_text, parse_file
    from goship.ui import console

    if not file.is_file():
        raise UsageError(
            f"no such file: {file}", hint="name a go.mod file, e.g. goship deps parse services/orders/go.mod"
        )
    mod = parse_file(file, lax=lax)
    if json:
        print(edit_json_text(mod), end="")
        return 0
    out = console.stdout()
    out.print(f"module {mod.module.path if mod.module else '(none)'}")
    if mod.go:
        out.print(f"go {mod.go.version}" + (f" (toolchain {mod.toolchain.name})" if mod.toolchain else ""))
    direct = [r for r in mod.require if not r.indirect]
    out.print(f"{len(direct)} direct and {len(mod.require) - len(direct)} indirect requirements")
    for req in direct:
        out.print(f"  {req.path} {req.version}")
    for rep in mod.replace:
        out.print(f"  replace {rep.old_path} {rep.old_version} => {rep.new_path} {rep.new_version}".rstrip())
    return 0
