"""The rooms of DESIGN.md hold: core packages never import the CLI (its argument parser, goship.cli._app,
included), the UI or rich, and only the process runner (_proc.py, under the git, go and credential-helper
wrappers) starts processes."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "goship"
FRONT = ("cli", "ui")
FRONT_ONLY = ("goship.cli", "goship.ui", "rich")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def core_modules() -> list[Path]:
    return [
        p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] not in FRONT and p.name != "__main__.py"
    ]


def test_core_packages_do_not_import_the_cli_ui_or_terminal_libraries() -> None:
    offenders = {
        str(p.relative_to(SRC)): sorted(n for n in imports_of(p) if n.startswith(FRONT_ONLY))
        for p in core_modules()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_only_the_process_runner_imports_subprocess() -> None:
    users = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if "subprocess" in imports_of(p))
    assert users == ["_proc.py"]


def test_the_layer_check_sees_the_core() -> None:
    names = {p.relative_to(SRC).as_posix() for p in core_modules()}
    assert {"semver.py", "versioning/plan.py", "git.py"} <= names
