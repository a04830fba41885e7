"""Go's ``strconv.Unquote``: for go.mod's ``"..."`` strings and the quoted fields of ``go version -m``."""

from __future__ import annotations

_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_REPLACEMENT_CHARACTER = "\ufffd".encode()


class QuoteError(Exception):
    """``strconv.ErrSyntax`` or parseString's refusal; ``str()`` is Go's words."""


def unquote(token: str) -> str:
    """strconv.Unquote of a ``"..."`` token; ``\\x`` and octal escapes may leave bytes that are no UTF-8."""
    body, out, i = token[1:], bytearray(), 0
    while i < len(body) and body[i] != '"':
        c = body[i]
        if c == "\n":
            raise QuoteError("invalid syntax")
        if c != "\\":
            # Go reads an undecodable byte as U+FFFD and writes that rune, not the byte.
            out += _REPLACEMENT_CHARACTER if "\ud800" <= c <= "\udfff" else c.encode()
            i += 1
            continue
        if i + 1 >= len(body):
            raise QuoteError("invalid syntax")
        e = body[i + 1]
        i += 2
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
        elif e in "xuU":
            digits = body[i : i + {"x": 2, "u": 4, "U": 8}[e]]
            if len(digits) < {"x": 2, "u": 4, "U": 8}[e] or not set(digits) <= _HEX_DIGITS:
                raise QuoteError("invalid syntax")
            i += len(digits)
            value = int(digits, 16)
            if e == "x":
                out.append(value)
            elif value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise QuoteError("invalid syntax")
            else:
                out += chr(value).encode()
        elif e in "01234567":
            digits = body[i - 1 : i + 2]
            if len(digits) < 3 or not set(digits) <= set("01234567") or int(digits, 8) > 255:
                raise QuoteError("invalid syntax")
            i += 2
            out.append(int(digits, 8))
        else:
            raise QuoteError("invalid syntax")  # includes \' , which only rune literals allow
    if i + 1 != len(body):
        raise QuoteError("invalid syntax")
    return out.decode("utf-8", "surrogateescape")
