"""Go's semantic versions: golang.org/x/mod/semver (SemVer 2.0.0 plus a required ``v`` and the ``vN`` /
``vN.M`` shorthands) and the pseudo-version and major-path-suffix rules of golang.org/x/mod/module.

Every function agrees with its Go counterpart on every input, invalid ones included: where Go returns
``""`` for an invalid version so does this module, and where Go returns an error this module raises
:class:`InvalidVersionError` with Go's message. The one difference: :func:`pseudo_version_time` cannot
return a pseudo-version stamped in year 0000, which Go accepts but :class:`datetime.datetime` cannot hold.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from goship.errors import UsageError

if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "InvalidVersionError",
    "PseudoVersion",
    "build",
    "canonical",
    "check_path_major",
    "compare",
    "go_quote",
    "inc_decimal",
    "is_pseudo_version",
    "is_valid",
    "major",
    "major_minor",
    "match_path_major",
    "max",
    "parse_pseudo_version",
    "path_major_prefix",
    "prerelease",
    "pseudo_version",
    "pseudo_version_base",
    "pseudo_version_rev",
    "pseudo_version_time",
    "sort",
    "split_path_version",
]


class InvalidVersionError(UsageError, ValueError):
    """A version that is malformed, or does not fit where it is used; ``str()`` is Go's message."""

    def __init__(self, version: str, reason: str, *, pseudo: bool = False, hint: str | None = None) -> None:
        noun = "pseudo-version" if pseudo else "version"
        super().__init__(f"{noun} {go_quote(version)} invalid: {reason}", hint=hint)
        self.version = version
        self.reason = reason
        self.pseudo = pseudo


# --- semver ----------------------------------------------------------------------------------------

# Numbers are kept as digit strings: they may be arbitrarily long, and int() refuses past 4300 digits.
_NUM = r"(?:0|[1-9][0-9]*)"
# A prerelease identifier is a number without leading zeros or any run of [0-9A-Za-z-] with a non-digit.
_PRE_IDENT = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_IDENT = r"[0-9A-Za-z-]+"
# The shorthands vN and vN.M exist only without prerelease and build, hence the nesting.
_SEMVER_RE = re.compile(
    rf"""v(?P<major>{_NUM})
    (?:\.(?P<minor>{_NUM})
      (?:\.(?P<patch>{_NUM})
        (?P<prerelease>-{_PRE_IDENT}(?:\.{_PRE_IDENT})*)?
        (?P<build>\+{_BUILD_IDENT}(?:\.{_BUILD_IDENT})*)?
      )?
    )?""",
    re.VERBOSE | re.ASCII,
)


@dataclass(frozen=True, slots=True)
class _Parsed:
    major: str
    minor: str
    patch: str
    prerelease: str
    build: str


def _parse(v: str) -> _Parsed | None:
    m = _SEMVER_RE.fullmatch(v)
    if m is None:
        return None
    return _Parsed(
        major=m["major"],
        minor=m["minor"] or "0",
        patch=m["patch"] or "0",
        prerelease=m["prerelease"] or "",
        build=m["build"] or "",
    )


def is_valid(v: str) -> bool:
    """Whether ``v`` is a valid Go semantic version (``v`` prefix required)."""
    return _parse(v) is not None


def canonical(v: str) -> str:
    """``v`` with missing ``.MINOR``/``.PATCH`` filled in and build metadata dropped; ``""`` if invalid."""
    p = _parse(v)
    if p is None:
        return ""
    return f"v{p.major}.{p.minor}.{p.patch}{p.prerelease}"


def major(v: str) -> str:
    """The ``vMAJOR`` prefix of ``v`` (``"v2"`` for ``"v2.1.0"``); ``""`` if invalid."""
    p = _parse(v)
    return "" if p is None else f"v{p.major}"


def major_minor(v: str) -> str:
    """The ``vMAJOR.MINOR`` prefix of ``v`` (``"v2.1"`` for ``"v2.1.0"``, ``"v2.0"`` for ``"v2"``)."""
    p = _parse(v)
    return "" if p is None else f"v{p.major}.{p.minor}"


def prerelease(v: str) -> str:
    """The prerelease suffix with its ``-`` (``"-pre"`` for ``"v2.1.0-pre+meta"``); ``""`` if none."""
    p = _parse(v)
    return "" if p is None else p.prerelease


def build(v: str) -> str:
    """The build suffix with its ``+`` (``"+meta"`` for ``"v2.1.0+meta"``); ``""`` if none."""
    p = _parse(v)
    return "" if p is None else p.build


def _compare_digits(x: str, y: str) -> int:
    # Without leading zeros, a longer digit string is the larger number.
    if len(x) != len(y):
        return -1 if len(x) < len(y) else 1
    return (x > y) - (x < y)


def _compare_prerelease(x: str, y: str) -> int:
    # SemVer 2.0.0 §11: a release outranks its prereleases; identifiers compare left to right, numbers
    # numerically and below any alphanumeric, which compare in ASCII order; a longer list wins a tie.
    if x == y:
        return 0
    if not x:
        return 1
    if not y:
        return -1
    xs, ys = x[1:].split("."), y[1:].split(".")
    for dx, dy in zip(xs, ys, strict=False):
        if dx == dy:
            continue
        x_num, y_num = dx.isdigit(), dy.isdigit()  # identifiers are ASCII, so isdigit() means [0-9]+
        if x_num != y_num:
            return -1 if x_num else 1
        if x_num:
            return _compare_digits(dx, dy)
        return -1 if dx < dy else 1
    return -1 if len(xs) < len(ys) else 1


def compare(v: str, w: str) -> int:
    """-1, 0 or +1 as ``v`` is lower than, equal to or higher than ``w`` in SemVer precedence.

    Build metadata is ignored. Invalid versions are lower than valid ones and equal to each other.
    """
    pv, pw = _parse(v), _parse(w)
    if pv is None or pw is None:
        return (pv is not None) - (pw is not None)
    for x, y in ((pv.major, pw.major), (pv.minor, pw.minor), (pv.patch, pw.patch)):
        if c := _compare_digits(x, y):
            return c
    return _compare_prerelease(pv.prerelease, pw.prerelease)


# Named after Go's semver.Max; the builtin max is not needed in this module.
def max(v: str, w: str) -> str:
    """The higher of ``v`` and ``w``, canonicalized (Go's deprecated ``semver.Max``)."""
    v, w = canonical(v), canonical(w)
    return v if compare(v, w) > 0 else w


def _compare_for_sort(v: str, w: str) -> int:
    # Go breaks precedence ties by plain string order, so that "v1" < "v1.0" < "v1.0.0" and the result
    # does not depend on the input order. Code-point order of str equals Go's byte order of UTF-8.
    return compare(v, w) or (v > w) - (v < w)


def sort(versions: Iterable[str]) -> list[str]:
    """A new list of ``versions`` in ascending precedence, ties in string order (Go's ``semver.Sort``)."""
    return sorted(versions, key=functools.cmp_to_key(_compare_for_sort))


# --- pseudo-versions ---------------------------------------------------------------------------------

# The three forms: vX.0.0-TIME-REV, vX.Y.Z-PRE.0.TIME-REV and vX.Y.(Z+1)-0.TIME-REV, each with optional
# build metadata (in practice "+incompatible"). The caller also requires a valid semver and two dashes.
_PSEUDO_RE = re.compile(
    r"""v[0-9]+\.
    (?:0\.0-|[0-9]+\.[0-9]+-(?:[^+]*\.)?0\.)
    [0-9]{14}-[A-Za-z0-9]+
    (?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?""",
    re.VERBOSE | re.ASCII,
)
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_leap(year: int) -> bool:
    """Proleptic Gregorian, year 0 included (calendar.isleap, without importing calendar and locale)."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@dataclass(frozen=True, slots=True)
class PseudoVersion:
    """The parts of a pseudo-version such as ``v1.2.4-0.20190101123000-abcdef123456+incompatible``."""

    base: str
    """The tagged version it builds on (``v1.2.3+incompatible``), ``""`` for the ``vX.0.0-`` form."""
    timestamp: str
    """The commit time in UTC as ``yyyymmddhhmmss``."""
    revision: str
    """The commit hash prefix (``abcdef123456``)."""
    build: str
    """Build metadata with its ``+`` (``"+incompatible"``), or ``""``."""

    @property
    def incompatible(self) -> bool:
        """Whether it is a ``+incompatible`` version (v2+ of a module without a go.mod major suffix)."""
        return self.build == "+incompatible"


def is_pseudo_version(v: str) -> bool:
    """Whether ``v`` has one of the three pseudo-version forms."""
    return v.count("-") >= 2 and is_valid(v) and _PSEUDO_RE.fullmatch(v) is not None


def _split_pseudo(v: str) -> tuple[str, str, str, str]:
    """(base with its ``-0``/``.0`` marker, timestamp, revision, build) of a pseudo-version."""
    if not is_pseudo_version(v):
        raise InvalidVersionError(v, "syntax error", pseudo=True)
    meta = build(v)
    rest = v[: len(v) - len(meta)]
    rest, _, rev = rest.rpartition("-")
    # The timestamp follows the last "." in the prerelease forms and the last "-" in the vX.0.0 form.
    dash, dot = rest.rfind("-"), rest.rfind(".")
    cut = dot if dot > dash else dash
    return rest[:cut], rest[cut + 1 :], rev, meta


def _decrement(digits: str) -> str:
    """The decimal one lower, or ``""`` when ``digits`` is zero."""
    stripped = digits.rstrip("0")
    if not stripped:
        return ""
    zeros = len(digits) - len(stripped)
    lowered = stripped[:-1] + str(int(stripped[-1]) - 1) + "9" * zeros
    # "1000" becomes "999", not "0999", so that the result stays a valid semver number.
    return lowered[1:] if len(lowered) > 1 and lowered[0] == "0" else lowered


def pseudo_version_base(v: str) -> str:
    """The tagged version a pseudo-version builds on, ``""`` for the ``vX.0.0-`` form.

    Raises :class:`InvalidVersionError` if ``v`` is no pseudo-version or its base cannot exist.
    """
    raw_base, _, _, meta = _split_pseudo(v)
    pre = prerelease(raw_base)
    if not pre:
        if meta:
            # "vX.0.0-" claims there is no tag at all, so a "+incompatible" tag to build on is absurd.
            raise InvalidVersionError(
                v, f"lacks base version, but has build metadata {go_quote(meta)}", pseudo=True
            )
        return ""
    if pre == "-0":
        release = raw_base[: -len(pre)]
        head, _, patch = release.rpartition(".")
        lower = _decrement(patch)
        if not lower:
            raise InvalidVersionError(
                v, f"version before {release} would have negative patch number", pseudo=True
            )
        return f"{head}.{lower}{meta}"
    return raw_base.removesuffix(".0") + meta


def pseudo_version(major: str, older: str, unix_time: int, rev: str) -> str:
    """The pseudo-version of commit ``rev`` (a 12-hex prefix) made at ``unix_time``, after the tag
    ``older`` ("" when there is none), as module.PseudoVersion builds it: ``v1.2.4-0.20190101123000-abcdef123456``.
    """
    import time

    segment = f"{time.strftime('%Y%m%d%H%M%S', time.gmtime(unix_time))}-{rev}"
    meta = build(older)
    older = canonical(older)
    if not older:
        return f"{major or 'v0'}.0.0-{segment}"
    if prerelease(older):
        return f"{older}.0.{segment}{meta}"
    head, _, patch = older.rpartition(".")
    return f"{head}.{inc_decimal(patch)}-0.{segment}{meta}"


def inc_decimal(digits: str) -> str:
    """Decimal increment of a digit string of any length (Go's incDecimal)."""
    stem = digits.rstrip("9")
    if not stem:
        return "1" + "0" * len(digits)
    return stem[:-1] + str(int(stem[-1]) + 1) + "0" * (len(digits) - len(stem))


def pseudo_version_rev(v: str) -> str:
    """The revision (commit hash prefix) of a pseudo-version; raises :class:`InvalidVersionError`."""
    return _split_pseudo(v)[2]


def _check_timestamp(v: str, stamp: str) -> tuple[int, int, int, int, int, int]:
    """(year, month, day, hour, minute, second) of ``stamp`` if Go's ``time.Parse`` accepts it."""
    fields = (int(stamp[:4]), *(int(stamp[i : i + 2]) for i in range(4, 14, 2)))
    year, month, day, hour, minute, second = fields
    ok = 1 <= month <= 12 and hour < 24 and minute < 60 and second < 60
    if ok:
        # datetime cannot check year 0000, which Go accepts (as a leap year, proleptic Gregorian).
        days = _DAYS_IN_MONTH[month - 1] + (month == 2 and _is_leap(year))
        ok = 1 <= day <= days
    if not ok:
        raise InvalidVersionError(v, f"malformed time {go_quote(stamp)}", pseudo=True)
    return year, month, day, hour, minute, second


def pseudo_version_time(v: str) -> datetime:
    """The commit time (UTC) of a pseudo-version; raises :class:`InvalidVersionError` if malformed."""
    _, stamp, _, _ = _split_pseudo(v)
    year, month, day, hour, minute, second = _check_timestamp(v, stamp)
    if year == 0:
        raise InvalidVersionError(
            v, f"time {go_quote(stamp)} is in year 0, which Python's datetime cannot hold", pseudo=True
        )
    from datetime import UTC, datetime

    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def parse_pseudo_version(v: str) -> PseudoVersion:
    """All parts of a pseudo-version, checked as Go's ``PseudoVersionBase`` and ``PseudoVersionTime`` do."""
    base = pseudo_version_base(v)
    _, stamp, rev, meta = _split_pseudo(v)
    _check_timestamp(v, stamp)
    return PseudoVersion(base=base, timestamp=stamp, revision=rev, build=meta)


# --- major-version path suffixes -------------------------------------------------------------------


def split_path_version(path: str) -> tuple[str, str, bool]:
    """``(prefix, path_major, ok)`` with ``prefix + path_major == path`` and ``path_major`` ``""`` or ``/vN``.

    ``/vN`` needs N >= 2 without leading zeros; ``ok`` is False for ``/v0``, ``/v1`` or ``/v2.0``.
    gopkg.in paths need ``.vN`` (any N, optionally ``-unstable``) instead.
    """
    if path.startswith("gopkg.in/"):
        return _split_gopkg_in(path)
    body = path.rstrip("0123456789.")
    if body == path or len(body) < 2 or body[-2:] != "/v":
        return path, "", True
    prefix, path_major = body[:-2], path[len(body) - 2 :]
    if "." in path_major or len(path_major) <= 2 or path_major[2] == "0" or path_major == "/v1":
        return path, "", False
    return prefix, path_major, True


def _split_gopkg_in(path: str) -> tuple[str, str, bool]:
    body = path.removesuffix("-unstable").rstrip("0123456789")
    if len(body) < 2 or body[-2:] != ".v":
        return path, "", False
    prefix, path_major = body[:-2], path[len(body) - 2 :]
    # Go's check is on the suffix as written, so ".v0-unstable" is refused while ".v-unstable" passes.
    if len(path_major) <= 2 or (path_major[2] == "0" and path_major != ".v0"):
        return path, "", False
    return prefix, path_major, True


def check_path_major(v: str, path_major: str) -> None:
    """Raise :class:`InvalidVersionError` unless version ``v`` fits the module path suffix ``path_major``."""
    if path_major.startswith(".v"):
        path_major = path_major.removesuffix("-unstable")
    if v.startswith("v0.0.0-") and path_major == ".v1":
        # Early vgo wrote v0.0.0 pseudo-versions for gopkg.in/x.v1; go.mod files in the wild still have them.
        return
    m = major(v)
    hint = None
    if not path_major:
        if m in ("v0", "v1") or build(v) == "+incompatible":
            return
        want = "v0 or v1"
        if m:
            hint = f"a {m} version needs a /{m} suffix on the module path (or +incompatible without a go.mod)"
    else:
        want = path_major
        if path_major[0] in "/.":
            if m == path_major[1:]:
                return
            want = path_major[1:]
    raise InvalidVersionError(v, f"should be {want}, not {m}", hint=hint)


def match_path_major(v: str, path_major: str) -> bool:
    """Whether version ``v`` fits the module path suffix ``path_major`` (``check_path_major`` passes)."""
    try:
        check_path_major(v, path_major)
    except InvalidVersionError:
        return False
    return True


def path_major_prefix(path_major: str) -> str:
    """The tag prefix a path suffix implies (``"/v2"`` → ``"v2"``, ``".v1-unstable"`` → ``"v1"``).

    ``""`` allows v0 or v1. Raises plain :class:`ValueError` for a suffix that is no major version,
    where Go panics.
    """
    if not path_major:
        return ""
    if path_major[0] not in "/.":
        raise ValueError(f"path major suffix must start with '/' or '.' (not {path_major!r})")
    if path_major.startswith(".v"):
        path_major = path_major.removesuffix("-unstable")
    m = path_major[1:]
    if m != major(m):
        raise ValueError(f"path major suffix must name a major version like /v2 or .v1 (not {path_major!r})")
    return m


# --- Go's %q ---------------------------------------------------------------------------------------

_NAMED_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}


def go_quote(s: str) -> str:
    """``s`` quoted as Go's ``%q`` does, so that error messages match Go's byte for byte."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[ch])
        elif ch < " " or ch == "\x7f":
            out.append(f"\\x{ord(ch):02x}")
        elif "\ud800" <= ch <= "\udfff":
            out.append("\\ufffd")  # Go cannot hold a lone surrogate and shows the replacement rune
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)
