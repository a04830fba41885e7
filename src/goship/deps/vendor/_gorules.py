"""Go's rules that reading modules.txt depends on: import paths (golang.org/x/mod/module's
``CheckImportPath``) and the order of module and Go versions (cmd/go/internal/gover)."""

from __future__ import annotations

from goship import semver

# golang.org/x/mod/module.CheckImportPath: ASCII letters, digits and "-._~+" in non-empty elements.
_IMPORT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+")
_WINDOWS_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))]
)


def _is_import_path(path: str) -> bool:
    """Whether Go's ``module.CheckImportPath`` accepts ``path``."""
    if not path or path[0] == "-" or "//" in path or path[-1] == "/":
        return False
    return all(_is_import_elem(elem) for elem in path.split("/"))


def _is_import_elem(elem: str) -> bool:
    if not elem or elem.strip(".") == "" or elem[-1] == ".":
        return False
    if not _IMPORT_CHARS.issuperset(elem):
        return False
    # Windows reserves device names (with any extension) and "~N" short names; Go refuses them everywhere.
    short = elem.split(".", 1)[0]
    if short.upper() in _WINDOWS_NAMES:
        return False
    tilde = short.rfind("~")
    return not (0 <= tilde < len(short) - 1 and short[tilde + 1 :].isdigit())


def _mod_compare(path: str, v: str, w: str) -> int:
    """Go's ``gover.ModCompare`` for versions that are valid semver."""
    if path in ("go", "toolchain"):
        # These compare as Go toolchain versions, which never start with "v": all are equally invalid.
        return 0
    return semver.compare(v, w)


def _gover_parse(v: str) -> tuple[str, str, str, str, str] | None:
    """(major, minor, patch, kind, pre) of a Go version like 1.21.3 or 1.22rc1, as Go's ``gover.Parse``."""
    major, v = _cut_int(v)
    if major is None:
        return None
    if not v:
        return major, "0", "0", "", ""
    if v[0] != ".":
        return None
    minor, v = _cut_int(v[1:])
    if minor is None:
        return None
    if not v:
        # Since 1.21 "1.21" is the language and comes before "1.21.0"; before, "1.20" meant "1.20.0".
        return major, minor, "0" if _cmp_int(minor, "21") < 0 else "", "", ""
    if v[0] == ".":
        patch, v = _cut_int(v[1:])
        return None if patch is None or v else (major, minor, patch, "", "")
    # A prerelease: lower-case letters ("rc", "beta"), then an optional number.
    kind = v[: len(v) - len(v.lstrip("abcdefghijklmnopqrstuvwxyz"))]
    v = v[len(kind) :]
    if not kind or (v and v[0] not in _DIGITS):
        return None
    if not v:
        return major, minor, "", kind, ""
    pre, v = _cut_int(v)
    return None if pre is None or v else (major, minor, "", kind, pre)


_DIGITS = "0123456789"  # str.isdigit() also takes other scripts' digits, which Go does not


def _cut_int(v: str) -> tuple[str | None, str]:
    """A leading decimal without extra leading zeros, and the rest; None if there is none."""
    n = len(v) - len(v.lstrip(_DIGITS))
    if n == 0 or (v[0] == "0" and n != 1):
        return None, v
    return v[:n], v[n:]


def _cmp_int(x: str, y: str) -> int:
    if len(x) != len(y):
        return -1 if len(x) < len(y) else 1
    return (x > y) - (x < y)


def _gover_compare(x: str, y: str) -> int:
    """Go's ``gover.Compare``: invalid versions are below every valid one and equal to each other."""
    px, py = _gover_parse(x) or ("", "", "", "", ""), _gover_parse(y) or ("", "", "", "", "")
    for a, b in zip(px[:3], py[:3], strict=True):
        if c := _cmp_int(a, b):
            return c
    if px[3] != py[3]:
        return -1 if px[3] < py[3] else 1
    return _cmp_int(px[4], py[4])
