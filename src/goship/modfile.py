"""go.mod files (go.dev/ref/mod#go-mod-file), read exactly as golang.org/x/mod/modfile reads them.

:func:`parse` is ``modfile.Parse`` with no version fixer: the main module's go.mod, every directive
checked, module versions canonicalised (``v1.2`` becomes ``v1.2.0``). ``parse(..., lax=True)`` is
``modfile.ParseLax``: a dependency's go.mod, where unknown directives and the ones only a main module
obeys (``exclude``, ``replace``, ``toolchain``, ``godebug``, ``tool``) are skipped. :func:`edit_json`
is the document ``go mod edit -json`` prints for the same file and :func:`edit_json_text` its exact text.

Text is Go's bytes decoded as UTF-8 with ``surrogateescape`` (what :func:`parse_file` does): an invalid
byte is one character, as it is one rune to Go, so columns agree. Every message is Go's, word for word.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

from goship import semver
from goship.errors import UsageError
from goship.semver import go_quote

__all__ = [
    "Exclude",
    "GoDirective",
    "Godebug",
    "Ignore",
    "ModFile",
    "ModFileError",
    "ModFileProblem",
    "ModuleDirective",
    "Replace",
    "Require",
    "Retract",
    "Tool",
    "ToolchainDirective",
    "edit_json",
    "edit_json_text",
    "is_directory_path",
    "parse",
    "parse_file",
]


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


def edit_json(mod: ModFile) -> dict[str, object]:
    """The document ``go mod edit -json`` prints for the file ``mod`` was parsed from.

    Like the go command, it first drops what ``SortBlocks`` and ``Cleanup`` drop: repeated ``exclude``,
    ``tool`` and ``ignore`` entries (the first stays), repeated ``replace`` entries for the same old
    path and version (the last stays), and entries with an empty path or key. Keys, their order and
    omissions follow cmd/go's ``fileJSON``; lists Go leaves nil are ``None`` (``null``).
    """
    doc: dict[str, object] = {
        "Module": _omit_empty({"Path": mod.module_path, "Deprecated": _deprecated(mod)})
    }
    if mod.go:
        doc["Go"] = mod.go.version
    if mod.toolchain:
        doc["Toolchain"] = mod.toolchain.name
    godebug = [{"Key": g.key, "Value": g.value} for g in mod.godebug if g.key]
    if godebug:
        doc["GoDebug"] = godebug
    doc["Require"] = _or_null(
        [
            _omit_empty({"Path": r.path, "Version": r.version, "Indirect": r.indirect})
            for r in mod.require
            if r.path
        ]
    )
    excludes = _first_of_each(mod.exclude, lambda x: (x.path, x.version))
    doc["Exclude"] = _or_null([_version_json(x.path, x.version) for x in excludes if x.path])
    replaces = _last_of_each(mod.replace, lambda r: (r.old_path, r.old_version))
    doc["Replace"] = _or_null(
        [
            {"Old": _version_json(r.old_path, r.old_version), "New": _version_json(r.new_path, r.new_version)}
            for r in replaces
            if r.old_path
        ]
    )
    doc["Retract"] = _or_null(
        [
            _omit_empty({"Low": r.low, "High": r.high, "Rationale": r.rationale})
            for r in mod.retract
            if r.low or r.high
        ]
    )
    doc["Tool"] = _or_null([{"Path": t.path} for t in _first_of_each(mod.tool, lambda t: t.path)])
    doc["Ignore"] = _or_null([{"Path": i.path} for i in _first_of_each(mod.ignore, lambda i: i.path)])
    return doc


def edit_json_text(mod: ModFile) -> str:
    """Exactly what ``go mod edit -json`` writes to stdout, final newline included.

    ``json.dumps(edit_json(mod), indent="\\t")`` gives the same only for ASCII text without ``<>&``:
    Go writes other characters as UTF-8, escapes ``<``, ``>``, ``&``, U+2028 and U+2029, and writes
    ``\\ufffd`` for each byte that is not UTF-8.
    """
    return json.dumps(edit_json(mod), indent="\t", ensure_ascii=False).translate(_GO_JSON_ESCAPES) + "\n"


_T = TypeVar("_T")

# --- edit_json helpers -----------------------------------------------------------------------------

# Only these characters differ between Python's ensure_ascii=False and Go's encoder, and they can occur
# only inside string values, so translating the whole document is safe.
_GO_JSON_ESCAPES: dict[int, str] = {ord(c): f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"} | {
    cp: "\\ufffd" for cp in range(0xD800, 0xE000)
}


def _deprecated(mod: ModFile) -> str:
    return mod.module.deprecated if mod.module else ""


def _omit_empty(obj: dict[str, object]) -> dict[str, object]:
    # Go's `json:",omitempty"` drops "" and false; the callers list only fields carrying that tag
    # besides Path, which is never dropped.
    return {k: v for k, v in obj.items() if k == "Path" or v}


def _version_json(path: str, version: str) -> dict[str, object]:
    return _omit_empty({"Path": path, "Version": version})


def _or_null(items: list[dict[str, object]]) -> list[dict[str, object]] | None:
    # Go appends to a nil slice, which marshals as null when nothing was appended.
    return items or None


def _first_of_each(entries: Sequence[_T], key: Callable[[_T], Hashable]) -> list[_T]:
    seen: set[Hashable] = set()
    kept = []
    for e in entries:
        k = key(e)
        if k not in seen:
            seen.add(k)
            kept.append(e)
    return kept


def _last_of_each(entries: Sequence[_T], key: Callable[[_T], Hashable]) -> list[_T]:
    # A later replace wins, but the survivors keep their places in the file.
    last = {key(e): i for i, e in enumerate(entries)}
    return [e for i, e in enumerate(entries) if last[key(e)] == i]


# --- syntax (x/mod/modfile/read.go) ----------------------------------------------------------------


class _Pos(NamedTuple):
    line: int
    col: int
    offset: int
    """Index into the text; Go uses the byte offset, which orders positions the same way."""

    def after_paren(self) -> _Pos:
        return _Pos(self.line, self.col + 1, self.offset + 1)


class _SyntaxFailure(Exception):
    def __init__(self, pos: _Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


class _Token(NamedTuple):
    kind: str
    text: str
    pos: _Pos
    end: _Pos


# Token kinds; a punctuation token's kind is the character itself.
_EOF = "EOF"
_EOL_COMMENT = "EOL-COMMENT"
_COMMENT = "COMMENT"
_IDENT = "IDENT"
_STRING = "STRING"
_ENDS_LINE = frozenset({_EOF, _EOL_COMMENT, "\n"})
_PUNCTUATION = frozenset("\n()[]{},")

# Go's unicode.IsSpace; Python's str.isspace() also counts U+001C..U+001F, which Go does not.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_GO_SPACE_RUN = re.compile(f"[{re.escape(_GO_SPACE)}]+")
# Identifier characters are printable runes other than space and ()[]{},; '/' needs a look at the next one.
_ASCII_IDENT_RUN = re.compile(
    "[" + re.escape("".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "()[]{},/")) + "]+"
)
_QUOTE_RUNE_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\v": r"\v"}


def _is_print(c: str) -> bool:
    """Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space."""
    if "\ud800" <= c <= "\udfff":
        return True  # an undecodable byte, which Go reads as U+FFFD, a symbol
    return c == " " or unicodedata.category(c)[0] in "LMNPS"


def _is_ident(c: str) -> bool:
    return c not in " ()[]{}," and _is_print(c)


def _quote_refused_rune(c: str) -> str:
    """Go's ``%#q`` of a character the lexer refuses (a control, a space or an invisible rune).

    For a rune ``#`` changes nothing: it is strconv.QuoteRune, which escapes every one of these.
    """
    if c in _QUOTE_RUNE_ESCAPES:
        return f"'{_QUOTE_RUNE_ESCAPES[c]}'"
    code = ord(c)
    if code < 0x80:
        return f"'\\x{code:02x}'"
    return f"'\\u{code:04x}'" if code < 0x10000 else f"'\\U{code:08x}'"


class _Comment(NamedTuple):
    pos: _Pos
    text: str
    """``// ...`` without the line end; ``""`` marks a blank line kept inside a block."""


class _Node:
    """A piece of syntax comments attach to (Go's Expr): a line, a block, its parens, a comment block."""

    __slots__ = ("before", "end", "start", "suffix")

    def __init__(self, start: _Pos, end: _Pos) -> None:
        self.start = start
        self.end = end
        self.before: list[_Comment] = []
        self.suffix: list[_Comment] = []


class _Line(_Node):
    __slots__ = ("tokens",)

    def __init__(self, start: _Pos, end: _Pos, tokens: list[str]) -> None:
        super().__init__(start, end)
        self.tokens = tokens


class _Block(_Node):
    __slots__ = ("lines", "lparen", "rparen", "tokens")

    def __init__(self, start: _Pos, tokens: list[str], lparen: _Pos) -> None:
        super().__init__(start, start)
        self.tokens = tokens
        self.lparen = _Node(lparen, lparen.after_paren())
        self.rparen = _Node(lparen, lparen)
        self.lines: list[_Line] = []

    def close(self, rparen: _Pos) -> None:
        self.rparen = _Node(rparen, rparen.after_paren())
        self.end = self.rparen.end


class _Lexer:
    """Go's input: one token of lookahead; the position is always just past that token."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line = 1
        self.col = 1
        self.suffix_comments: list[_Comment] = []
        self.token = self._read_token()

    @property
    def pos(self) -> _Pos:
        return _Pos(self.line, self.col, self.i)

    def peek(self) -> str:
        return self.token.kind

    def lex(self) -> _Token:
        tok = self.token
        self.token = self._read_token()
        return tok

    def _fail(self, message: str) -> _SyntaxFailure:
        return _SyntaxFailure(self.pos, message)

    def _skip_to(self, stop: int) -> None:
        chunk = self.text[self.i : stop]
        newlines = chunk.count("\n")
        if newlines:
            self.line += newlines
            self.col = len(chunk) - chunk.rfind("\n")
        else:
            self.col += len(chunk)
        self.i = stop

    def _read_token(self) -> _Token:
        text = self.text
        while self.i < len(text):
            c = text[self.i]
            if c in " \t\r":
                self._skip_to(self.i + 1)
                continue
            if text.startswith("//", self.i):
                return self._read_comment()
            if text.startswith("/*", self.i):
                raise self._fail("mod files must use // comments (not /* */ comments)")
            break
        start = self.pos
        if self.i >= len(text):
            return _Token(_EOF, "", start, start)
        c = text[self.i]
        if c in _PUNCTUATION:
            self._skip_to(self.i + 1)
            return _Token(c, c, start, self.pos)
        if c in '"`':
            self._read_string(c, start)
            return _Token(_STRING, text[start.offset : self.i], start, self.pos)
        if not _is_ident(c):
            raise self._fail(f"unexpected input character {_quote_refused_rune(c)}")
        self._read_ident()
        return _Token(_IDENT, text[start.offset : self.i], start, self.pos)

    def _read_comment(self) -> _Token:
        text, start = self.text, self.pos
        # Alone on its line, a comment is a token of the grammar (it may start a comment block or be
        # kept before the next line); after other tokens it is set aside and attached afterwards.
        line_start = text.rfind("\n", 0, self.i) + 1
        is_suffix = bool(text[line_start : self.i].strip(_GO_SPACE))
        newline = text.find("\n", self.i)
        self._skip_to(len(text) if newline < 0 else newline + 1)
        body = text[start.offset : self.i]
        body = body[:-2] if body.endswith("\r\n") else body.removesuffix("\n")
        if not is_suffix:
            return _Token(_COMMENT, body, start, self.pos)
        self.suffix_comments.append(_Comment(start, body))
        return _Token(_EOL_COMMENT, body, start, self.pos)

    def _read_string(self, quote: str, start: _Pos) -> None:
        text = self.text
        self._skip_to(self.i + 1)
        while True:
            if self.i >= len(text):
                raise _SyntaxFailure(start, "unexpected EOF in string")
            if text[self.i] == "\n":
                raise self._fail("unexpected newline in string")
            c = text[self.i]
            self._skip_to(self.i + 1)
            if c == quote:
                return
            if c == "\\" and quote != "`":
                if self.i >= len(text):
                    raise _SyntaxFailure(start, "unexpected EOF in string")
                # Go skips the escaped rune unchecked, so a backslash carries a string onto the next line.
                self._skip_to(self.i + 1)

    def _read_ident(self) -> None:
        text, i = self.text, self.i
        while i < len(text):
            run = _ASCII_IDENT_RUN.match(text, i)
            if run:
                i = run.end()
                continue
            c = text[i]
            if c == "/":
                if text.startswith("//", i):
                    break
                if text.startswith("/*", i):
                    self._skip_to(i)
                    raise self._fail("mod files must use // comments (not /* */ comments)")
                i += 1
            elif ord(c) >= 0x80 and _is_ident(c):
                i += 1
            else:
                break
        self._skip_to(i)


class _Parser:
    """Go's parseFile, parseStmt, parseLineBlock and parseLine, then its comment assignment."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.lexer = _Lexer(text)
        self.stmts: list[_Node] = []

    def _fail(self, message: str) -> _SyntaxFailure:
        # The lexer is a token ahead, so Go reports parser errors just past the lookahead token.
        return _SyntaxFailure(self.lexer.pos, message)

    def parse_file(self) -> list[_Node]:
        lexer = self.lexer
        comments: _Node | None = None
        while True:
            kind = lexer.peek()
            if kind == "\n":
                lexer.lex()
                if comments is not None:
                    self.stmts.append(comments)
                    comments = None
            elif kind == _COMMENT:
                tok = lexer.lex()
                if comments is None:
                    comments = _Node(tok.pos, tok.pos)
                comments.before.append(_Comment(tok.pos, tok.text))
            elif kind == _EOF:
                if comments is not None:
                    self.stmts.append(comments)
                break
            else:
                self._parse_stmt()
                if comments is not None:
                    self.stmts[-1].before = comments.before
                    comments = None
        self._assign_suffix_comments()
        return self.stmts

    def _parse_stmt(self) -> None:
        lexer = self.lexer
        tok = lexer.lex()
        start, end, tokens = tok.pos, tok.end, [tok.text]
        while True:
            tok = lexer.lex()
            if tok.kind in _ENDS_LINE:
                self.stmts.append(_Line(start, end, tokens))
                return
            if tok.kind == "(":
                if lexer.peek() in _ENDS_LINE:
                    self.stmts.append(self._parse_block(start, tokens, tok.pos))
                    return
                if lexer.peek() == ")":
                    rparen = lexer.lex()
                    if lexer.peek() in _ENDS_LINE:
                        lexer.lex()
                        block = _Block(start, tokens, tok.pos)
                        block.close(rparen.pos)
                        self.stmts.append(block)
                        return
                    tokens += ["(", ")"]
                else:
                    tokens.append("(")
                # Go leaves the line's end where it was for a '(' inside it.
                continue
            tokens.append(tok.text)
            end = tok.end

    def _parse_block(self, start: _Pos, tokens: list[str], lparen: _Pos) -> _Block:
        lexer = self.lexer
        block = _Block(start, tokens, lparen)
        comments: list[_Comment] = []
        blank = _Comment(_Pos(0, 0, 0), "")
        while True:
            kind = lexer.peek()
            if kind == _EOL_COMMENT:
                lexer.lex()
            elif kind == "\n":
                lexer.lex()
                # A blank line between lines or after a comment is kept as an empty comment.
                if (not comments and block.lines) or (comments and comments[-1].text):
                    comments.append(blank)
            elif kind == _COMMENT:
                tok = lexer.lex()
                comments.append(_Comment(tok.pos, tok.text))
            elif kind == _EOF:
                raise self._fail(
                    f"syntax error (unterminated block started at {self.file}:{start.line}:{start.col})"
                )
            elif kind == ")":
                rparen = lexer.lex()
                block.close(rparen.pos)
                block.rparen.before = [] if comments == [blank] else comments
                if lexer.peek() not in _ENDS_LINE:
                    raise self._fail("syntax error (expected newline after closing paren)")
                lexer.lex()
                return block
            else:
                line = self._parse_line()
                line.before = comments
                comments = []
                block.lines.append(line)

    def _parse_line(self) -> _Line:
        tok = self.lexer.lex()
        start, end, tokens = tok.pos, tok.end, [tok.text]
        while True:
            tok = self.lexer.lex()
            if tok.kind in _ENDS_LINE:
                return _Line(start, end, tokens)
            tokens.append(tok.text)
            end = tok.end

    def _assign_suffix_comments(self) -> None:
        # Go walks all syntax in postorder (a block after its parens and lines) from the end, and gives
        # each one-line piece the set-aside comments that start at or after its end.
        postorder: list[_Node] = []
        for stmt in self.stmts:
            if isinstance(stmt, _Block):
                postorder += [stmt.lparen, *stmt.lines, stmt.rparen]
            postorder.append(stmt)
        pending = list(self.lexer.suffix_comments)
        for node in reversed(postorder):
            if node.start.line != node.end.line:
                continue
            while pending and node.end.offset <= pending[-1].pos.offset:
                node.suffix.append(pending.pop())
        for node in postorder:
            node.suffix.reverse()


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
_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_REPLACEMENT_CHARACTER = "\ufffd".encode()


class _QuoteError(Exception):
    """``strconv.ErrSyntax`` or parseString's refusal; ``str()`` is Go's words."""


class _DirectiveError(Exception):
    def __init__(self, message: str, *, show_found: bool = True, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.show_found = show_found
        self.hint = hint


def _unquote(token: str) -> str:
    """strconv.Unquote of a ``"..."`` token; ``\\x`` and octal escapes may leave bytes that are no UTF-8."""
    body, out, i = token[1:], bytearray(), 0
    while i < len(body) and body[i] != '"':
        c = body[i]
        if c == "\n":
            raise _QuoteError("invalid syntax")
        if c != "\\":
            # Go reads an undecodable byte as U+FFFD and writes that rune, not the byte.
            out += _REPLACEMENT_CHARACTER if "\ud800" <= c <= "\udfff" else c.encode()
            i += 1
            continue
        if i + 1 >= len(body):
            raise _QuoteError("invalid syntax")
        e = body[i + 1]
        i += 2
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
        elif e in "xuU":
            digits = body[i : i + {"x": 2, "u": 4, "U": 8}[e]]
            if len(digits) < {"x": 2, "u": 4, "U": 8}[e] or not set(digits) <= _HEX_DIGITS:
                raise _QuoteError("invalid syntax")
            i += len(digits)
            value = int(digits, 16)
            if e == "x":
                out.append(value)
            elif value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise _QuoteError("invalid syntax")
            else:
                out += chr(value).encode()
        elif e in "01234567":
            digits = body[i - 1 : i + 2]
            if len(digits) < 3 or not set(digits) <= set("01234567") or int(digits, 8) > 255:
                raise _QuoteError("invalid syntax")
            i += 2
            out.append(int(digits, 8))
        else:
            raise _QuoteError("invalid syntax")  # includes \' , which only rune literals allow
    if i + 1 != len(body):
        raise _QuoteError("invalid syntax")
    return out.decode("utf-8", "surrogateescape")


def _parse_string(token: str) -> str:
    if token.startswith('"'):
        return _unquote(token)
    if any(q in token for q in "\"'`"):
        # Other quotes are reserved, so that 'x' or `x` is an error rather than a path with quotes in it.
        raise _QuoteError("unquoted string cannot contain quote")
    return token


def _string_arg(token: str) -> str:
    try:
        return _parse_string(token)
    except _QuoteError as exc:
        raise _DirectiveError(f"invalid quoted string: {exc}") from None


def _directive_prefix(verb: str, path: str) -> str:
    return f"{verb} {path}: " if path else f"{verb}: "


def _version_arg(verb: str, path: str, token: str, *, canonicalize: bool = True) -> str:
    """Go's parseVersion without a fixer: canonical or refused (retract takes versions as written)."""
    try:
        text = _parse_string(token)
    except _QuoteError as exc:
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
