"""Frozen dataclasses from plain YAML values, without pydantic, for input that is already exactly right.

goship.yaml is validated by pydantic, which reports every problem of a file at once with its location;
but importing pydantic and building a section's schema costs ~80 ms, on the critical path of every
command that reads a file it has not seen before. Most files are valid and spelled exactly: strings
where strings go, lists where lists go. :func:`convert` builds the settings from such input directly,
running the same field checks, and raises :class:`NotPlain` at the first thing it is not sure of — a
value of another type that pydantic might coerce, an unknown key, a check that fails — so the caller
hands the file to pydantic, whose answer (or error) is the reference. Nothing here decides validity
on its own: it only recognises the easy case.

A field's ``Annotated`` metadata may carry ``parse`` (run before the type check, like a pydantic
"before" validator) or ``check`` (run after it); both raise ValueError on bad input.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

__all__ = ["NotPlain", "convert"]


class NotPlain(Exception):
    """The value is not one :func:`convert` can take as it is; ask pydantic."""


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls, include_extras=True)
    return hints


def convert(tp: Any, value: Any) -> Any:
    """``value`` as an instance of ``tp``; :class:`NotPlain` when pydantic should decide."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(tp)
        for m in meta:
            if parse := getattr(m, "parse", None):
                value = _checked(parse, value)
        value = convert(inner, value)
        for m in meta:
            if check := getattr(m, "check", None):
                value = _checked(check, value)
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return convert(option, value)
            except NotPlain:
                continue
        raise NotPlain(tp)
    if origin is Literal:
        if any(value == v and type(value) is type(v) for v in typing.get_args(tp)):
            return value
        raise NotPlain(tp)
    if origin is list:
        if type(value) is not list:
            raise NotPlain(tp)
        (item,) = typing.get_args(tp)
        return [convert(item, v) for v in value]
    if origin is dict:
        if type(value) is not dict:
            raise NotPlain(tp)
        key, item = typing.get_args(tp)
        return {convert(key, k): convert(item, v) for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp, value)
    if tp is Any:
        return value
    if tp is float and type(value) in (int, float):
        return float(value)
    if tp in (str, int, bool, float) and type(value) is tp:
        return value
    raise NotPlain(tp)


def _checked(function: Any, value: Any) -> Any:
    try:
        return function(value)
    except (ValueError, TypeError) as exc:
        raise NotPlain(str(exc)) from exc


def _dataclass(cls: type, value: Any) -> Any:
    if type(value) is not dict:
        raise NotPlain(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    if not set(value) <= set(fields) or not all(type(k) is str for k in value):
        raise NotPlain(cls)  # an unknown key: pydantic says where
    hints = _hints(cls)
    try:
        return cls(**{name: convert(hints[name], v) for name, v in value.items()})
    except (ValueError, TypeError) as exc:  # __post_init__ refused, or a required field is missing
        raise NotPlain(str(exc)) from exc
