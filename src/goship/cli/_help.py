"""Plain-text layout of goship's help: re-wrapped paragraphs and two aligned columns.

No rich here: help prints without importing a terminal library, so ``goship CMD --help`` stays fast.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

MAX_WIDTH = 100
"""Help wider than this is hard to read, however wide the terminal."""
NAME_COLUMN = 30
"""The widest first column; a longer name puts its text on the next line."""


def width() -> int:
    """The terminal's width (``COLUMNS`` first, as ``shutil`` does), at most :data:`MAX_WIDTH`."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        try:
            columns = os.get_terminal_size(sys.stdout.fileno()).columns
        except (OSError, ValueError):
            columns = MAX_WIDTH
    return max(40, min(columns, MAX_WIDTH))


def _wrap(text: str, width: int) -> list[str]:
    # JSON shapes and paths stay whole: never break inside a word or at its hyphens.
    return textwrap.wrap(" ".join(text.split()), width, break_long_words=False, break_on_hyphens=False) or [
        ""
    ]


def paragraphs(text: str, width: int) -> list[str]:
    """``text`` re-wrapped to ``width``, paragraph by paragraph (a blank line separates two)."""
    lines: list[str] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        if lines:
            lines.append("")
        lines += _wrap(block, width)
    return lines


def columns(rows: Sequence[tuple[str, str]], width: int, *, indent: int = 2) -> list[str]:
    """Each ``(name, text)`` row with the names aligned in a first column and the texts wrapped in a second."""
    left = min(max((len(name) for name, _ in rows), default=0), NAME_COLUMN)
    hang = " " * (indent + left + 2)
    lines: list[str] = []
    for name, text in rows:
        wrapped = _wrap(text, max(width - len(hang), 30))
        if len(name) > left:
            lines.append(" " * indent + name)
            lines += [hang + line for line in wrapped if line]
        else:
            lines.append(" " * indent + name.ljust(left) + "  " + wrapped[0])
            lines += [hang + line for line in wrapped[1:]]
    return [line.rstrip() for line in lines]


def page(usage: str, *sections: list[str]) -> str:
    """A help page: the usage line, then each non-empty section after a blank line."""
    lines = [f"Usage: {usage}"]
    for section in sections:
        if section:
            lines += ["", *section]
    return "\n".join(lines) + "\n"
