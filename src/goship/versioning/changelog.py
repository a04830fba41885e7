"""Release notes from conventional commits, as Markdown, and CHANGELOG.md in Keep a Changelog form
(keepachangelog.com/en/1.1.0)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from goship.errors import CheckFailedError
from goship.git import web_url
from goship.versioning.bump import CommitBump

SECTIONS = ("Breaking changes", "Features", "Fixes", "Performance", "Other")
_TYPE_SECTION = {"feat": "Features", "fix": "Fixes", "perf": "Performance"}
_DEP_BUMP = re.compile(
    r"^(?:bump|update|upgrade)\s+(?:module\s+|dependency\s+)?(?P<name>\S+)"
    r"(?:\s+from\s+(?P<old>\S+))?(?:\s+to\s+(?P<new>\S+))?",
    re.IGNORECASE,
)
_HEADER = """# Changelog

All notable changes to this project are documented in this file.

The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).
"""
_RELEASE_HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\]", re.MULTILINE)


@dataclass(frozen=True)
class Entry:
    text: str
    sha: str | None = None


@dataclass(frozen=True)
class ReleaseNotes:
    """The notes of one release of one module."""

    title: str
    """The tag (``services/orders/v1.4.0``) or ``Unreleased``."""
    date: str
    sections: tuple[tuple[str, tuple[Entry, ...]], ...]

    @property
    def empty(self) -> bool:
        return not self.sections


def build_notes(
    commits: Sequence[CommitBump],
    *,
    title: str,
    date: str,
    bots: Sequence[str] = (),
    hidden_types: Sequence[str] = (),
    dependencies: Sequence[str] | None = None,
) -> ReleaseNotes:
    """Group commits into sections; bot dependency bumps fold into one Dependencies line.

    ``dependencies`` (what go.mod says changed, from ``goship deps diff``) gives that line its
    content when known; otherwise it is read from the bots' commit subjects.
    """
    grouped: dict[str, list[Entry]] = {s: [] for s in SECTIONS}
    deps: list[str] = []
    seen: set[str] = set()
    for cb in reversed(commits):  # oldest first reads like a story
        cc = cb.conventional
        if cb.bump == "none" and (cc is None or cb.reason.startswith(("reverted", "reverts"))):
            continue
        if cc is None:
            grouped["Other"].append(Entry(cb.commit.subject, cb.commit.sha))
            continue
        dep = _dependency_update(cb, bots)
        if dep is not None:
            if dep not in seen:
                seen.add(dep)
                deps.append(dep)
            continue
        text = f"**{cc.scope}:** {cc.description}" if cc.scope else cc.description
        if cc.breaking:
            notes = "; ".join(cc.breaking_notes)
            grouped["Breaking changes"].append(Entry(f"{text}: {notes}" if notes else text, cb.commit.sha))
            continue
        if cc.type in hidden_types:
            continue
        grouped[_TYPE_SECTION.get(cc.type, "Other")].append(Entry(text, cb.commit.sha))
    if dependencies is not None:
        deps = list(dependencies)
    if deps:
        count = f"{len(deps)} update{'s' if len(deps) != 1 else ''}"
        grouped["Other"].append(Entry(f"**Dependencies:** {', '.join(deps)} ({count})"))
    sections = tuple((s, tuple(grouped[s])) for s in SECTIONS if grouped[s])
    return ReleaseNotes(title=title, date=date, sections=sections)


def render_notes(notes: ReleaseNotes, *, commit_url: str | None = None, heading: bool = True) -> str:
    """Markdown: a ``## [tag] - date`` heading, then ``###`` sections of bullet lines."""
    lines: list[str] = []
    if heading:
        lines += [f"## [{notes.title}] - {notes.date}", ""]
    if notes.empty:
        lines += ["No notable changes.", ""]
    for title, entries in notes.sections:
        lines += [f"### {title}", ""]
        for e in entries:
            link = ""
            if e.sha:
                short = e.sha[:7]
                link = f" ([{short}]({commit_url.format(sha=e.sha)}))" if commit_url else f" ({short})"
            lines.append(f"- {e.text}{link}")
        lines.append("")
    return "\n".join(lines)


def prepend_release(existing: str | None, rendered: str, *, title: str) -> str:
    """CHANGELOG.md with ``rendered`` as the newest release (below ``[Unreleased]`` if present)."""
    if existing is None or not existing.strip():
        return f"{_HEADER}\n{rendered.rstrip()}\n"
    for m in _RELEASE_HEADING.finditer(existing):
        if m.group("name") == title:
            raise CheckFailedError(
                f"the changelog already has a section for {title}",
                hint="release notes are written once per release; edit that section by hand if needed",
            )
    at = next(
        (m.start() for m in _RELEASE_HEADING.finditer(existing) if m.group("name") != "Unreleased"), None
    )
    if at is None:
        return f"{existing.rstrip()}\n\n{rendered.rstrip()}\n"
    return f"{existing[:at]}{rendered.rstrip()}\n\n{existing[at:]}"


def commit_url_for(remote_url: str | None) -> str | None:
    """A commit-link template for common forges, from a remote's URL (``None`` when unknown)."""
    web = web_url(remote_url)
    if web is None:
        return None
    if "gitlab" in web:
        return f"{web}/-/commit/{{sha}}"
    if "bitbucket" in web:
        return f"{web}/commits/{{sha}}"
    return f"{web}/commit/{{sha}}"


def _dependency_update(cb: CommitBump, bots: Sequence[str]) -> str | None:
    """``golang.org/x/net v0.30.0 → v0.31.0`` for a bot's dependency bump, else ``None``."""
    cc = cb.conventional
    by_bot = cb.commit.author_name in bots or cb.commit.author_email.split("@")[0] in bots
    deps_scope = cc is not None and (cc.scope or "").lower() in ("deps", "deps-dev")
    if not (by_bot or deps_scope) or cc is None or cc.breaking:
        return None
    m = _DEP_BUMP.match(cc.description)
    if not m:
        return cc.description if by_bot else None
    name, old, new = m.group("name"), m.group("old"), m.group("new")
    if old and new:
        return f"{name} {old} → {new}"
    return f"{name} → {new}" if new else name
