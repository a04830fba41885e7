"""go.mod's directives as x/mod/modfile/rule.go reads them: ``Parse``, ``ParseLax`` and each verb's rules.

Every problem is collected, as Go collects them, and every message is Go's, word for word.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from goship import semver
from goship.gostrconv import QuoteError, unquote
from goship.modfile._model import (
    Exclude,
    Godebug,
    GoDirective,
    Ignore,
    ModFile,
    ModFileError,
    ModFileProblem,
    ModuleDirective,
    Replace,
    Require,
    Retract,
    Tool,
    ToolchainDirective,
)
from goship.modfile._syntax import _GO_SPACE, _GO_SPACE_RUN, _Block, _Line, _Node, _Parser, _SyntaxFailure
from goship.semver import go_quote

if TYPE_CHECKING:
    from pathlib import Path


# --- public functions ------------------------------------------------------------------------------


def parse(text: str, *, file: str = "go.mod", lax: bool = False) -> ModFile:
    """Parse go.mod ``text`` as ``modfile.Parse`` does (``ParseLax`` with ``lax``); ``file`` names it in errors.

    Raises :class:`ModFileError` listing every problem Go would list.
    """
    try:
        stmts = _Parser(text, file).parse_file()
    except _SyntaxFailure as exc:
        # Go stops at the first syntax error, so there is exactly one.
        raise ModFileError([ModFileProblem(file, exc.pos.line, exc.pos.col, exc.message)]) from None
    interpreter = _Interpreter(file, strict=not lax)
    for stmt in stmts:
        if isinstance(stmt, _Line):
            interpreter.add(None, stmt, stmt.tokens[0], stmt.tokens[1:])
        elif isinstance(stmt, _Block):
            interpreter.add_block(stmt)
    if interpreter.problems:
        hints = [h for h in interpreter.hints if h]
        raise ModFileError(interpreter.problems, hint=hints[0] if hints else None)
    return interpreter.result()


def parse_file(path: Path, *, lax: bool = False, file: str | None = None) -> ModFile:
    """Read and :func:`parse` the go.mod at ``path``; ``file`` is the name for messages (default: ``path``)."""
    name = str(path) if file is None else file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModFileError((), message=f"cannot read {name}: {exc.strerror or exc}") from exc
    return parse(data.decode("utf-8", "surrogateescape"), file=name, lax=lax)


def is_directory_path(path: str) -> bool:
    """Whether a ``replace`` target is a directory: ``.``/``..``-relative or rooted, Unix or Windows style."""
    # go.mod files move between systems, so Go accepts both path syntaxes everywhere.
    return (
        path in (".", "..")
        or path.startswith(("./", ".\\", "../", "..\\", "/", "\\"))
        or (len(path) >= 2 and path[0].isascii() and path[0].isalpha() and path[1] == ":")
    )


# --- directives (x/mod/modfile/rule.go) ------------------------------------------------------------

_GO_VERSION = re.compile(r"([1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?([a-z]+[0-9]+)?")
# A dependency written for a newer Go may say "1.21.x"; lax parsing keeps the "1.21".
_LAX_GO_VERSION = re.compile(r"v?(([1-9][0-9]*)\.(0|[1-9][0-9]*))([^0-9].*)")
# Deliberately loose so that toolchain names Go invents later still parse.
_TOOLCHAIN = re.compile(r"default\Z|go1(?:\Z|\.)")
_DEPRECATED = re.compile(r"(?:\A|\n\n)Deprecated: *(.*?)(?:\Z|\n\n)", re.DOTALL)
_BLOCK_VERBS = frozenset({"module", "godebug", "require", "exclude", "replace", "retract", "tool", "ignore"})
# A dependency's go.mod counts only for these; the rest (known or not) concern its own main module.
_LAX_VERBS = frozenset({"go", "module", "retract", "require", "ignore"})


class _DirectiveError(Exception):
    def __init__(self, message: str, *, show_found: bool = True, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.show_found = show_found
        self.hint = hint


def _parse_string(token: str) -> str:
    if token.startswith('"'):
        return unquote(token)
    if any(q in token for q in "\"'`"):
        # Other quotes are reserved, so that 'x' or `x` is an error rather than a path with quotes in it.
        raise QuoteError("unquoted string cannot contain quote")
    return token


def _string_arg(token: str) -> str:
    try:
        return _parse_string(token)
    except QuoteError as exc:
        raise _DirectiveError(f"invalid quoted string: {exc}") from None


def _directive_prefix(verb: str, path: str) -> str:
    return f"{verb} {path}: " if path else f"{verb}: "


def _version_arg(verb: str, path: str, token: str, *, canonicalize: bool = True) -> str:
    """Go's parseVersion without a fixer: canonical or refused (retract takes versions as written)."""
    try:
        text = _parse_string(token)
    except QuoteError as exc:
        invalid = semver.InvalidVersionError(token, str(exc))
        raise _DirectiveError(_directive_prefix(verb, path) + invalid.message, show_found=False) from None
    if not canonicalize:
        return text
    canonical = semver.canonical(text)
    if canonical and semver.build(text) == "+incompatible":
        canonical += "+incompatible"
    if not canonical:
        invalid = semver.InvalidVersionError(text, "must be of the form v1.2.3")
        raise _DirectiveError(_directive_prefix(verb, path) + invalid.message, show_found=False)
    return canonical


def _path_major(verb: str, path: str, *, name_path: bool) -> str:
    _prefix, path_major, ok = semver.split_path_version(path)
    if not ok:
        raise _DirectiveError((_directive_prefix(verb, path) if name_path else "") + "invalid module path")
    return path_major


def _check_path_major(verb: str, path: str, version: str, path_major: str) -> None:
    try:
        semver.check_path_major(version, path_major)
    except semver.InvalidVersionError as exc:
        message = _directive_prefix(verb, path) + exc.message
        raise _DirectiveError(message, show_found=False, hint=exc.hint) from None


def _version_interval(args: list[str]) -> tuple[str, str, list[str]]:
    """``v`` or ``[lo, hi]`` at the start of a retract's arguments; returns low, high and what follows."""
    if not args or args[0] == "(":
        raise _DirectiveError("expected '[' or version")
    if args[0] != "[":
        v = _version_arg("retract", "", args[0], canonicalize=False)
        return v, v, args[1:]
    rest = args[1:]
    if not rest:
        raise _DirectiveError("expected version after '['")
    low = _version_arg("retract", "", rest[0], canonicalize=False)
    rest = rest[1:]
    if not rest or rest[0] != ",":
        raise _DirectiveError("expected ',' after version")
    rest = rest[1:]
    if not rest:
        raise _DirectiveError("expected version after ','")
    high = _version_arg("retract", "", rest[0], canonicalize=False)
    rest = rest[1:]
    if not rest or rest[0] != "]":
        raise _DirectiveError("expected ']' after version")
    return low, high, rest[1:]


def _directive_comment(block: _Block | None, line: _Line) -> str:
    """The comment text of a line, or of its block when the line has none (even a kept blank line counts)."""
    source: _Node = line
    if block is not None and not line.before and not line.suffix:
        source = block
    texts = [c.text for c in (*source.before, *source.suffix) if c.text.startswith("//")]
    return "\n".join(t.removeprefix("//").strip(_GO_SPACE) for t in texts)


def _is_indirect(line: _Line) -> bool:
    if not line.suffix:
        return False
    words = [w for w in _GO_SPACE_RUN.split(line.suffix[0].text.removeprefix("//")) if w]
    return (len(words) == 1 and words[0] == "indirect") or (len(words) > 1 and words[0] == "indirect;")


class _Interpreter:
    """Go's parseToFile and File.add: turns lines into entries, collecting every problem."""

    def __init__(self, file: str, *, strict: bool) -> None:
        self.file = file
        self.strict = strict
        self.problems: list[ModFileProblem] = []
        self.hints: list[str | None] = []
        self.module: ModuleDirective | None = None
        self.go: GoDirective | None = None
        self.toolchain: ToolchainDirective | None = None
        self.godebug: list[Godebug] = []
        self.require: list[Require] = []
        self.exclude: list[Exclude] = []
        self.replace: list[Replace] = []
        self.retract: list[Retract] = []
        self.tool: list[Tool] = []
        self.ignore: list[Ignore] = []

    def result(self) -> ModFile:
        return ModFile(
            file=self.file,
            module=self.module,
            go=self.go,
            toolchain=self.toolchain,
            godebug=tuple(self.godebug),
            require=tuple(self.require),
            exclude=tuple(self.exclude),
            replace=tuple(self.replace),
            retract=tuple(self.retract),
            tool=tuple(self.tool),
            ignore=tuple(self.ignore),
        )

    def add_block(self, block: _Block) -> None:
        verb = block.tokens[0]
        if len(block.tokens) > 1 or verb not in _BLOCK_VERBS:
            if self.strict:
                message = f"unknown block type: {' '.join(block.tokens)}"
                self.problems.append(ModFileProblem(self.file, block.start.line, block.start.col, message))
            return
        for line in block.lines:
            self.add(block, line, verb, line.tokens)

    def add(self, block: _Block | None, line: _Line, verb: str, args: list[str]) -> None:
        if not self.strict and verb not in _LAX_VERBS:
            return
        at = {"line": line.start.line, "col": line.start.col}
        try:
            self._add(block, line, verb, args, at)
        except _DirectiveError as exc:
            found = " ".join([verb, *args]) if exc.show_found else ""
            self.problems.append(
                ModFileProblem(self.file, line.start.line, line.start.col, exc.message, found)
            )
            self.hints.append(exc.hint)

    def _add(self, block: _Block | None, line: _Line, verb: str, args: list[str], at: dict[str, int]) -> None:
        if verb == "go":
            self._go(args, at)
        elif verb == "toolchain":
            if self.toolchain is not None:
                raise _DirectiveError("repeated toolchain statement")
            if len(args) != 1:
                raise _DirectiveError("toolchain directive expects exactly one argument")
            if not _TOOLCHAIN.match(args[0]):
                message = f"invalid toolchain version '{args[0]}': must match format go1.23.0 or default"
                raise _DirectiveError(message, show_found=False)
            self.toolchain = ToolchainDirective(args[0], **at)
        elif verb == "module":
            if self.module is not None:
                raise _DirectiveError("repeated module statement")
            # Go records the module before checking its argument, so a second one is "repeated" even then.
            self.module = ModuleDirective("", _deprecation(block, line), **at)
            if len(args) != 1:
                raise _DirectiveError("usage: module module/path")
            self.module = ModuleDirective(_string_arg(args[0]), self.module.deprecated, **at)
        elif verb == "godebug":
            if len(args) != 1 or any(c in args[0] for c in "\"`',"):
                raise _DirectiveError("usage: godebug key=value")
            key, eq, value = args[0].partition("=")
            if not eq:
                raise _DirectiveError("usage: godebug key=value")
            self.godebug.append(Godebug(key, value, **at))
        elif verb in ("require", "exclude"):
            self._require_or_exclude(line, verb, args, at)
        elif verb == "replace":
            self._replace(args, at)
        elif verb == "retract":
            self._retract(block, line, args, at)
        elif verb in ("tool", "ignore"):
            if len(args) != 1:
                raise _DirectiveError(f"{verb} directive expects exactly one argument")
            path = _string_arg(args[0])
            if verb == "tool":
                self.tool.append(Tool(path, **at))
            else:
                self.ignore.append(Ignore(path, **at))
        else:
            raise _DirectiveError(f"unknown directive: {verb}", show_found=False)

    def _go(self, args: list[str], at: dict[str, int]) -> None:
        if self.go is not None:
            raise _DirectiveError("repeated go statement")
        if len(args) != 1:
            raise _DirectiveError("go directive expects exactly one argument")
        version = args[0]
        if not _GO_VERSION.fullmatch(version):
            lax = None if self.strict else _LAX_GO_VERSION.fullmatch(version)
            if lax is None:
                message = f"invalid go version '{version}': must match format 1.23.0"
                raise _DirectiveError(message, show_found=False)
            version = lax[1]
        self.go = GoDirective(version, **at)

    def _require_or_exclude(self, line: _Line, verb: str, args: list[str], at: dict[str, int]) -> None:
        if len(args) != 2:
            raise _DirectiveError(f"usage: {verb} module/path v1.2.3")
        path = _string_arg(args[0])
        version = _version_arg(verb, path, args[1])
        _check_path_major(verb, path, version, _path_major(verb, path, name_path=False))
        if verb == "require":
            self.require.append(Require(path, version, _is_indirect(line), **at))
        else:
            self.exclude.append(Exclude(path, version, **at))

    def _replace(self, args: list[str], at: dict[str, int]) -> None:
        arrow = 1 if len(args) >= 2 and args[1] == "=>" else 2
        if len(args) < arrow + 2 or len(args) > arrow + 3 or args[arrow] != "=>":
            raise _DirectiveError(
                "usage: replace module/path [v1.2.3] => other/module v1.4\n"
                "\t or replace module/path [v1.2.3] => ../local/directory"
            )
        old_path = _string_arg(args[0])
        path_major = _path_major("replace", old_path, name_path=True)
        old_version = ""
        if arrow == 2:
            old_version = _version_arg("replace", old_path, args[1])
            _check_path_major("replace", old_path, old_version, path_major)
        new_path = _string_arg(args[arrow + 1])
        new_version = ""
        if len(args) == arrow + 2:
            if not is_directory_path(new_path):
                if "@" in new_path:
                    raise _DirectiveError(
                        "replacement module must match format 'path version', not 'path@version'"
                    )
                raise _DirectiveError(
                    "replacement module without version must be directory path (rooted or starting with . or ..)"
                )
            # As the go command on Unix: a backslash there is a Windows path that will not work here.
            if "\\" in new_path:
                raise _DirectiveError(
                    "replacement directory appears to be Windows path (on a non-windows system)"
                )
        else:
            new_version = _version_arg("replace", new_path, args[arrow + 2])
            if is_directory_path(new_path):
                message = f"replacement module directory path {go_quote(new_path)} cannot have version"
                raise _DirectiveError(message, show_found=False)
        self.replace.append(Replace(old_path, old_version, new_path, new_version, **at))

    def _retract(self, block: _Block | None, line: _Line, args: list[str], at: dict[str, int]) -> None:
        rationale = _directive_comment(block, line)
        try:
            low, high, rest = _version_interval(args)
        except _DirectiveError:
            # A dependency may use interval syntax a later Go adds; only the main module must be readable.
            if self.strict:
                raise
            return
        if rest and self.strict:
            raise _DirectiveError(f"unexpected token after version: {go_quote(rest[0])}", show_found=False)
        self.retract.append(Retract(low, high, rationale, **at))


def _deprecation(block: _Block | None, line: _Line) -> str:
    """The first paragraph of the module's comments that starts with ``Deprecated:``, without that word."""
    match = _DEPRECATED.search(_directive_comment(block, line))
    return match[1] if match else ""
