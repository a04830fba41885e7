"""go.mod's lexer and parser, to a tree of lines, blocks and attached comments (x/mod/modfile/read.go).

Positions are Go's: a column counts characters as Go counts runes; a syntax error is Go's, word for word.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple


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
