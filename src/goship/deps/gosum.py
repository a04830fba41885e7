"""go.sum, read the way the go command reads it (cmd/go/internal/modfetch: ``readGoSum``).

Each line is ``MODULE VERSION HASH`` (the module's zip) or ``MODULE VERSION/go.mod HASH`` (its go.mod
only), fields separated by any Unicode white space. The go command skips blank lines and lines whose hash
is that of an empty go.mod (written by an old bug), and refuses a file with any other line that has not
exactly three fields ("malformed go.sum", except under ``go mod tidy``, which rewrites the file). Module
paths, versions and hashes are not checked when read; a hash that is not ``h1:`` is kept but counts for
nothing, as in the go command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from goship.errors import UsageError

__all__ = [
    "EMPTY_GO_MOD_HASH",
    "GO_WHITESPACE",
    "GoSum",
    "GoSumEntry",
    "GoSumError",
    "go_fields",
    "parse",
    "parse_file",
]

EMPTY_GO_MOD_HASH = "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY="
"""The hash of a tree holding one empty go.mod; old go commands wrote it for non-modules."""

_GO_MOD_SUFFIX = "/go.mod"

GO_WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)
"""Go's unicode.IsSpace, which strings.Fields and strings.TrimSpace use. It is narrower than Python's
str.isspace: Python also counts the ASCII separators U+001C..U+001F, which Go keeps inside a field."""
_FIELD = re.compile(f"[^{re.escape(GO_WHITESPACE)}]+")


def go_fields(s: str) -> list[str]:
    """``s`` split around runs of Go white space, as Go's ``strings.Fields`` does."""
    return _FIELD.findall(s)


class GoSumError(UsageError):
    """go.sum has lines the go command refuses; ``details`` holds one ``FILE:LINE:COL: …`` per line."""


@dataclass(frozen=True, slots=True)
class GoSumEntry:
    """One hash line of go.sum."""

    path: str
    """The module path, as written."""
    version: str
    """The module version without the ``/go.mod`` suffix, as written (the go command does not check it)."""
    is_go_mod: bool
    """True for a ``VERSION/go.mod`` line (the hash of the go.mod alone), False for the module zip."""
    hash: str
    """The hash with its algorithm prefix, ``h1:`` + base64 SHA-256 of the file tree."""
    line: int
    """1-based line number in the file."""


# The key Go uses: (module path, version with "/go.mod" for go.mod hashes).
_Key = tuple[str, str, bool]


@dataclass(frozen=True)
class GoSum:
    """The hash lines of one go.sum, in file order, with lookups by module version."""

    entries: tuple[GoSumEntry, ...]
    """Every hash line the go command keeps, in file order (duplicates included)."""
    file: str = "go.sum"
    """The name used in messages."""
    ignored: tuple[int, ...] = ()
    """Line numbers of lines the go command skips although they are not blank (empty-go.mod hashes)."""
    _index: Mapping[tuple[str, str], tuple[GoSumEntry, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    """Entries by (path, version), both kinds, in file order."""
    _h1: frozenset[_Key] = field(init=False, repr=False, compare=False, default=frozenset())
    """The (path, version, is_go_mod) keys that have at least one ``h1:`` hash."""

    def __post_init__(self) -> None:
        index: dict[tuple[str, str], list[GoSumEntry]] = {}
        h1: set[_Key] = set()
        for e in self.entries:
            index.setdefault((e.path, e.version), []).append(e)
            # Go's HaveSum counts only hashes of a known algorithm; h1 is the only one there is.
            if e.hash.startswith("h1:"):
                h1.add((e.path, e.version, e.is_go_mod))
        frozen = {k: tuple(v) for k, v in index.items()}
        object.__setattr__(self, "_index", MappingProxyType(frozen))
        object.__setattr__(self, "_h1", frozenset(h1))

    def has_module(self, path: str, version: str) -> bool:
        """Whether there is an ``h1:`` hash of the module zip (what building from that module needs)."""
        return (path, version, False) in self._h1

    def has_go_mod(self, path: str, version: str) -> bool:
        """Whether there is an ``h1:`` hash of the module's go.mod (what loading the module graph needs)."""
        return (path, version, True) in self._h1

    def lines_for(self, path: str, version: str) -> tuple[GoSumEntry, ...]:
        """Every entry for ``path`` at ``version``, zip and go.mod, in file order; ``()`` if none."""
        return self._index.get((path, version), ())


def parse(text: str, *, file: str = "go.sum") -> GoSum:
    """Read go.sum's text; raises :class:`GoSumError` listing every line the go command would refuse."""
    entries: list[GoSumEntry] = []
    ignored: list[int] = []
    problems: list[str] = []
    # Go splits on "\n" alone: a lone "\r" or U+2028 is white space inside a line, not a line break.
    for lineno, line in enumerate(text.split("\n"), start=1):
        fields = list(_FIELD.finditer(line))
        if not fields:
            continue
        if len(fields) != 3:
            col = fields[0].start() + 1
            problems.append(
                f"{file}:{lineno}:{col}: expected three fields MODULE VERSION[/go.mod] HASH "
                f"(found {len(fields)}: {_shorten(line.strip(GO_WHITESPACE))!r})"
            )
            continue
        path, version, digest = (m.group() for m in fields)
        if digest == EMPTY_GO_MOD_HASH:
            ignored.append(lineno)
            continue
        is_go_mod = version.endswith(_GO_MOD_SUFFIX)
        if is_go_mod:
            version = version[: -len(_GO_MOD_SUFFIX)]
        entries.append(GoSumEntry(path, version, is_go_mod, digest, lineno))
    if problems:
        count = len(problems)
        message = problems[0] if count == 1 else f"{file} has {count} malformed lines"
        raise GoSumError(
            message,
            details=problems,
            hint="run 'go mod tidy' to rewrite go.sum (it drops malformed lines and re-adds the hashes)",
        )
    return GoSum(tuple(entries), file=file, ignored=tuple(ignored))


def parse_file(path: str | Path) -> GoSum:
    """Read a go.sum file; a missing file is an empty go.sum, as for the go command."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return GoSum((), file=str(path))
    except OSError as exc:
        raise GoSumError(f"{path}: cannot read go.sum: {exc.strerror}") from exc
    # Go reads bytes; surrogateescape keeps any invalid UTF-8 inside its field instead of failing.
    return parse(data.decode("utf-8", errors="surrogateescape"), file=str(path))


def _shorten(s: str, limit: int = 80) -> str:
    # A malformed line may be a whole pasted file; keep messages to one screen line.
    return s if len(s) <= limit else s[: limit - 1] + "…"
