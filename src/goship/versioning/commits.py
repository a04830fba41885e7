"""Conventional Commits 1.0 (conventionalcommits.org/en/v1.0.0): parse a commit message's header and
footers, and recognise git's revert commits."""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(
    r"^(?P<type>[A-Za-z][A-Za-z0-9_-]*)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?: +(?P<description>\S.*)$"
)
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE: *(?P<text>.*)$")
_FOOTER_TOKEN = re.compile(r"^(?:[A-Za-z][A-Za-z0-9-]*|BREAKING CHANGE)(?:: | #)")
# git writes 'Revert "…"', and since 2.43 'Reapply "…"' for the revert of a revert.
_GIT_REVERT_SUBJECT = re.compile(r'^(?:Revert|Reapply) "(?P<header>.+)"$')
_REVERTS_SHA = re.compile(r"\bThis reverts commit (?P<sha>[0-9a-f]{7,64})\b")
_REFS_SHA = re.compile(r"^Refs?: *(?P<shas>[0-9a-f]{7,64}(?:[ ,]+[0-9a-f]{7,64})*)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ConventionalCommit:
    """The parts of a conventional commit message."""

    type: str
    """Lower-cased type (``feat``, ``fix`` …); the spec treats types case-insensitively."""
    scope: str | None
    description: str
    breaking: bool
    """A ``!`` before the colon or a ``BREAKING CHANGE:`` / ``BREAKING-CHANGE:`` footer."""
    breaking_notes: tuple[str, ...] = ()
    """The text of the BREAKING CHANGE footers, for release notes."""


@dataclass(frozen=True)
class Revert:
    """A commit that undoes others."""

    reverted: tuple[str, ...]
    """Full or abbreviated hashes of the commits it reverts (may be empty when it does not say)."""
    header: str | None
    """The reverted commit's header, when the revert quotes it."""


def parse_conventional(subject: str, body: str = "") -> ConventionalCommit | None:
    """The conventional-commit reading of a message, or ``None`` when its header does not follow the spec."""
    m = _HEADER.match(subject.strip())
    if not m:
        return None
    notes = _breaking_notes(body)
    return ConventionalCommit(
        type=m.group("type").lower(),
        scope=(m.group("scope") or "").strip() or None,
        description=m.group("description").strip(),
        breaking=bool(m.group("bang")) or bool(notes),
        breaking_notes=tuple(n for n in notes if n),
    )


def parse_revert(subject: str, body: str = "") -> Revert | None:
    """git's ``Revert "…"`` commits and conventional ``revert:`` commits, with what they revert."""
    subject = subject.strip()
    if subject[:7].lower() not in ("revert ", "revert:", "revert(", "revert!", "reapply"):
        return None  # the common case, decided without parsing the message
    git_style = _GIT_REVERT_SUBJECT.match(subject)
    conventional = parse_conventional(subject, body)
    if not git_style and not (conventional and conventional.type == "revert"):
        return None
    shas = [m.group("sha") for m in _REVERTS_SHA.finditer(body)]
    for m in _REFS_SHA.finditer(body):
        shas.extend(s for s in re.split(r"[ ,]+", m.group("shas")) if s)
    header = git_style.group("header") if git_style else conventional.description if conventional else None
    return Revert(reverted=tuple(dict.fromkeys(shas)), header=header)


def _breaking_notes(body: str) -> list[str]:
    """Texts of BREAKING CHANGE footers; a footer's value runs until the next footer token."""
    notes: list[str] = []
    current: list[str] | None = None
    for line in body.splitlines():
        m = _BREAKING_FOOTER.match(line)
        if m:
            if current is not None:
                notes.append(" ".join(current).strip())
            current = [m.group("text").strip()]
        elif current is not None:
            if _FOOTER_TOKEN.match(line) or not line.strip():
                notes.append(" ".join(current).strip())
                current = None
            else:
                current.append(line.strip())
    if current is not None:
        notes.append(" ".join(current).strip())
    # A footer with an empty value still marks the commit as breaking: its "" stays in the list.
    return notes
