"""The OCI documents' JSON read with messages that say what was expected, and written as the Go structs
behind every reader write it (``omitempty``); shared by :mod:`goship.image._ocivalues` and its parsers."""

from __future__ import annotations

import json
from collections.abc import Mapping

from goship.errors import UsageError

# --- reading JSON with messages that say what was expected -------------------------------------------


def _load(data: bytes, what: str) -> dict[str, object]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what}: expected JSON ({exc})") from exc
    return _obj(value, what)


def _obj(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise UsageError(f"{where}: expected a JSON object (not {type(value).__name__})")
    return value


def _str(obj: Mapping[str, object], key: str, where: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise UsageError(f"{where}: {key!r} is missing")
        return None
    if not isinstance(value, str):
        raise UsageError(f"{where}.{key}: expected a string (not {type(value).__name__})")
    return value


def _strs(obj: Mapping[str, object], key: str, where: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}.{key}: expected a list of strings")
    return tuple(value)


def _str_map(obj: Mapping[str, object], key: str, where: str) -> dict[str, str]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise UsageError(f"{where}.{key}: expected an object of strings")
    return dict(value)


def _keys(obj: Mapping[str, object], key: str, where: str) -> tuple[str, ...]:
    # ExposedPorts and Volumes are sets written as objects whose values are all {}.
    return tuple(sorted(_obj(obj.get(key) or {}, f"{where}.{key}")))


def _drop_empty(obj: dict[str, object]) -> dict[str, object]:
    # The Go structs behind every reader use omitempty: absent and empty mean the same. Numbers stay
    # (a size of 0 is a size), which `in` guarantees because 0 equals none of these.
    return {k: v for k, v in obj.items() if v not in (None, "", [], {})}
