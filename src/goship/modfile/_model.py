"""What :func:`goship.modfile.parse` returns and raises: the parsed go.mod file and its problems.

The entries are golang.org/x/mod/modfile's File, one frozen dataclass per directive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from goship.errors import UsageError
from goship.semver import go_quote

# --- the parsed file -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Located:
    line: int
    """1-based line of the entry's first token (inside a block: of the line's first token, not the verb)."""
    col: int
    """1-based column of that token, counted in characters as Go counts runes."""


@dataclass(frozen=True, slots=True)
class ModuleDirective(_Located):
    """The ``module`` line."""

    path: str
    """The module path, unquoted."""
    deprecated: str = ""
    """The ``Deprecated:`` paragraph of the comments before or after the line, ``""`` if none."""


@dataclass(frozen=True, slots=True)
class GoDirective(_Located):
    """The ``go`` line."""

    version: str
    """The Go language version as written (``1.23.0``, ``1.21rc1``); lax mode trims ``1.21.x`` to ``1.21``."""


@dataclass(frozen=True, slots=True)
class ToolchainDirective(_Located):
    """The ``toolchain`` line."""

    name: str
    """``go1.23.4``-style toolchain name, or ``default``."""


@dataclass(frozen=True, slots=True)
class Godebug(_Located):
    """One ``godebug key=value`` setting."""

    key: str
    """The setting's name, left of the first ``=``."""
    value: str
    """Everything right of the first ``=``."""


@dataclass(frozen=True, slots=True)
class Require(_Located):
    """One required module version."""

    path: str
    """The module path, unquoted."""
    version: str
    """The canonical version (``v1.2.0`` for ``v1.2``; ``+incompatible`` kept, other build metadata dropped)."""
    indirect: bool = False
    """The line's comment is ``// indirect`` or starts with ``// indirect;``."""


@dataclass(frozen=True, slots=True)
class Exclude(_Located):
    """One excluded module version."""

    path: str
    """The module path, unquoted."""
    version: str
    """The canonical version."""


@dataclass(frozen=True, slots=True)
class Replace(_Located):
    """One replacement: ``old_path [old_version] => new_path [new_version]``."""

    old_path: str
    """The replaced module path."""
    old_version: str
    """The one version replaced, ``""`` when every version is."""
    new_path: str
    """The replacement module path, or a directory (see :func:`is_directory_path`)."""
    new_version: str
    """The replacement's canonical version; ``""`` exactly when ``new_path`` is a directory."""


@dataclass(frozen=True, slots=True)
class Retract(_Located):
    """One retracted version or closed interval ``[low, high]``."""

    low: str
    """Lowest retracted version, as written (Go checks retracted versions only against the module path later)."""
    high: str
    """Highest retracted version; equal to ``low`` for a single version."""
    rationale: str = ""
    """The comments on the line (or, without any, on its block), one line each, ``//`` stripped."""


@dataclass(frozen=True, slots=True)
class Tool(_Located):
    """One ``tool`` package path."""

    path: str
    """The package path, unquoted."""


@dataclass(frozen=True, slots=True)
class Ignore(_Located):
    """One ``ignore`` directory."""

    path: str
    """The directory, unquoted."""


@dataclass(frozen=True, slots=True)
class ModFile:
    """Everything a go.mod file says, in file order, duplicates kept (as ``modfile.Parse`` keeps them)."""

    file: str
    """The name the file was parsed under; messages about entries start with it."""
    module: ModuleDirective | None = None
    """The ``module`` line; None when the file has none."""
    go: GoDirective | None = None
    """The ``go`` line."""
    toolchain: ToolchainDirective | None = None
    """The ``toolchain`` line (never set in lax mode)."""
    godebug: tuple[Godebug, ...] = ()
    """``godebug`` settings (none in lax mode)."""
    require: tuple[Require, ...] = ()
    """``require`` entries."""
    exclude: tuple[Exclude, ...] = ()
    """``exclude`` entries (none in lax mode)."""
    replace: tuple[Replace, ...] = ()
    """``replace`` entries (none in lax mode)."""
    retract: tuple[Retract, ...] = ()
    """``retract`` entries."""
    tool: tuple[Tool, ...] = ()
    """``tool`` entries (none in lax mode)."""
    ignore: tuple[Ignore, ...] = ()
    """``ignore`` entries."""

    @property
    def module_path(self) -> str:
        """The module path, ``""`` without a ``module`` line."""
        return self.module.path if self.module else ""


# --- errors ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModFileProblem:
    """One thing wrong with a go.mod file, where Go would say it."""

    file: str
    """The file's name as given to :func:`parse`."""
    line: int
    """1-based line."""
    col: int
    """1-based column; Go shows it only when it is past 1."""
    message: str
    """Go's words for the problem, without the position."""
    found: str = ""
    """The offending directive as written, when ``message`` does not already show it."""

    @property
    def go_text(self) -> str:
        """The line Go prints for this problem (``go.mod:3: ...`` or ``go.mod:3:5: ...``)."""
        where = f"{self.file}:{self.line}:{self.col}" if self.col > 1 else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"

    def __str__(self) -> str:
        return f"{self.go_text} (found {go_quote(self.found)})" if self.found else self.go_text


class ModFileError(UsageError):
    """A go.mod file the go command would refuse; ``problems`` lists every one, as Go reports them all."""

    def __init__(
        self, problems: Sequence[ModFileProblem], *, message: str | None = None, hint: str | None = None
    ) -> None:
        self.problems = tuple(problems)
        lines = [str(p) for p in self.problems]
        if message is None:
            # One problem reads best as the error itself; several as Go's "errors parsing" with a list.
            message = lines[0] if len(lines) == 1 else f"errors parsing {self.problems[0].file}"
            details = [] if len(lines) == 1 else lines
        else:
            details = lines
        super().__init__(message, hint=hint, details=details)
