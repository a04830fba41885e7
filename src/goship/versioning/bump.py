"""From commits to a bump, and from a bump to the next version: every commit says what it bumps and why."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from goship import semver
from goship.git import Commit
from goship.versioning.commits import ConventionalCommit, parse_conventional, parse_revert

Bump = Literal["major", "minor", "patch", "none"]
BUMP_ORDER: dict[Bump, int] = {"none": 0, "patch": 1, "minor": 2, "major": 3}
_PRERELEASE_ID = re.compile(r"[0-9A-Za-z-]+")


@dataclass(frozen=True)
class BumpPolicy:
    """What each commit type bumps (see goship.yaml ``versioning``)."""

    bump_types: Mapping[str, Bump]
    breaking_before_v1: Literal["minor", "major"] = "minor"


@dataclass(frozen=True)
class CommitBump:
    """One commit, how it reads, what it bumps, and why."""

    commit: Commit
    conventional: ConventionalCommit | None
    bump: Bump
    reason: str


def classify_commits(commits: Sequence[Commit], policy: BumpPolicy, *, below_v1: bool) -> list[CommitBump]:
    """What each commit bumps (``commits`` newest first, as git log gives them).

    A revert and the commit it reverts, both unreleased, cancel out; a revert that is itself reverted
    undoes nothing, so the commit it named counts again.
    """
    reverts = {c.sha: parse_revert(c.subject, c.body) for c in commits}
    in_range = [c.sha for c in commits]
    reverted_by: dict[str, str] = {}
    neutral: set[str] = set()
    for c in commits:  # newest first: a later revert decides whether an earlier one took effect
        revert = reverts[c.sha]
        if c.sha in reverted_by or revert is None:
            continue
        targets = [next((s for s in in_range if s.startswith(t)), None) for t in revert.reverted]
        if targets and all(targets):
            neutral.add(c.sha)
            for full in targets:
                assert full is not None
                reverted_by[full] = c.sha

    out = []
    for c in commits:
        conventional = parse_conventional(c.subject, c.body)
        revert = reverts[c.sha]
        if c.sha in reverted_by:
            bump: Bump = "none"
            reason = f"reverted by {reverted_by[c.sha][:7]} before any release"
        elif c.sha in neutral:
            bump, reason = "none", "reverts an unreleased commit"
        elif revert is not None:
            bump = policy.bump_types.get("revert", "patch")
            reason = f"revert of a released change → {bump}"
        elif c.is_merge and conventional is None:
            bump, reason = "none", "merge commit (the commits it merges count on their own)"
        elif conventional is None:
            bump, reason = "none", "not a conventional commit (expected 'type(scope): subject')"
        elif conventional.breaking:
            if below_v1 and policy.breaking_before_v1 == "minor":
                bump, reason = "minor", "breaking change; below v1.0.0 it bumps minor"
            else:
                bump, reason = "major", "breaking change"
        else:
            bump = policy.bump_types.get(conventional.type, "none")
            reason = f"type '{conventional.type}' → {bump}"
        out.append(CommitBump(commit=c, conventional=conventional, bump=bump, reason=reason))
    return out


def highest_bump(bumps: Sequence[CommitBump]) -> Bump:
    best: Bump = "none"
    for b in bumps:
        if BUMP_ORDER[b.bump] > BUMP_ORDER[best]:
            best = b.bump
    return best


def apply_bump(version: str, bump: Bump) -> str:
    """``version`` (a release, ``vX.Y.Z``) bumped; ``none`` returns its release core unchanged."""
    core = release_core(version)
    major, minor, patch = core[1:].split(".")
    if bump == "major":
        return f"v{semver.inc_decimal(major)}.0.0"
    if bump == "minor":
        return f"v{major}.{semver.inc_decimal(minor)}.0"
    if bump == "patch":
        return f"v{major}.{minor}.{semver.inc_decimal(patch)}"
    return core


def release_core(version: str) -> str:
    """``v1.4.0-rc.2`` → ``v1.4.0``."""
    return semver.canonical(version).split("-", 1)[0].split("+", 1)[0]


def check_prerelease_id(identifier: str) -> str | None:
    """Why ``identifier`` cannot name a prerelease channel, or ``None`` when it can."""
    if not _PRERELEASE_ID.fullmatch(identifier):
        return f"expected letters, digits and '-' (found {identifier!r})"
    if identifier.isdigit():
        return f"expected a name such as 'rc', 'beta' or 'alpha' (found the number {identifier!r})"
    return None


def next_prerelease(target: str, channel: str, existing: Sequence[str]) -> str:
    """``target-channel.N``, N one past the highest ``target-channel.K`` in ``existing``."""
    prefix = f"{target}-{channel}."
    numbers = [int(v[len(prefix) :]) for v in existing if v.startswith(prefix) and v[len(prefix) :].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1}"
