"""The document ``go mod edit -json`` prints for a go.mod file (cmd/go's ``fileJSON``), byte for byte."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from goship.modfile._model import ModFile


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
