"""Where output goes: results to stdout (one JSON document with ``--json``), diagnostics to stderr.

rich is imported only when a human-readable result is rendered, so ``--json`` and errors stay fast.
Colour follows rich's rules: none when the stream is not a terminal or ``NO_COLOR`` is set.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from goship.errors import GoshipError

if TYPE_CHECKING:
    from rich.console import Console


def stdout() -> Console:
    from rich.console import Console

    # Piped output is read by greps and logs: keep a table row on one line there.
    width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200
    return Console(highlight=False, soft_wrap=True, width=width)


def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(document: Any) -> None:
    """Exactly one JSON document on stdout, and nothing else: indented for a person at a terminal,
    compact for a program (json's fast C encoder only runs without indentation)."""
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(document, indent=indent, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _styled(text: str, code: str) -> str:
    if os.environ.get("NO_COLOR") or not sys.stderr.isatty():
        return text
    return f"\x1b[{code}m{text}\x1b[0m"


def warn(message: str) -> None:
    sys.stderr.write(f"{_styled('warning:', '1;33')} {message}\n")


def info(message: str) -> None:
    sys.stderr.write(f"{message}\n")


def report_error(err: GoshipError) -> None:
    """``error:`` with what was expected and found, one line per detail, then ``hint:``."""
    lines = [f"{_styled('error:', '1;31')} {err.message}"]
    lines += [f"  {d}" for d in err.details]
    if err.hint:
        lines.append(f"{_styled('hint:', '1;36')} {err.hint}")
    sys.stderr.write("\n".join(lines) + "\n")
