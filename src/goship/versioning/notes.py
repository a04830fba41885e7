"""Release notes of planned versions: the one place that turns a module's commits into ReleaseNotes,
for ``goship changelog`` and for the messages of ``goship tag``."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from goship.config import GoshipConfig
from goship.versioning.bump import BumpPolicy, classify_commits
from goship.versioning.changelog import ReleaseNotes, build_notes, commit_url_for, render_notes
from goship.versioning.plan import ModuleVersion, Repository, module_commits


@dataclass(frozen=True)
class ModuleNotes:
    version: ModuleVersion
    notes: ReleaseNotes


def release_date() -> str:
    """Today (UTC), or the day of ``SOURCE_DATE_EPOCH`` for reproducible output."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    stamp = float(epoch) if epoch and epoch.isdigit() else time.time()
    return time.strftime("%Y-%m-%d", time.gmtime(stamp))


def commit_url(repo: Repository, config: GoshipConfig) -> str | None:
    return config.changelog.commit_url or commit_url_for(repo.git.remote_url(config.tags.remote))


def notes_for(
    repo: Repository,
    version: ModuleVersion,
    config: GoshipConfig,
    *,
    since: str | None = None,
    date: str | None = None,
) -> ModuleNotes:
    """The notes of ``version``'s next release (or of the commits since ``since``)."""
    bumps = version.commits
    if since is not None:
        policy = BumpPolicy(config.versioning.bump_types, config.versioning.breaking_before_v1)
        below_v1 = version.base is None or version.base.version.startswith("v0.")
        bumps = tuple(
            classify_commits(module_commits(repo, version.module, since=since), policy, below_v1=below_v1)
        )
    notes = build_notes(
        bumps,
        title=version.next_tag or "Unreleased",
        date=date or release_date(),
        bots=config.changelog.bots,
        hidden_types=config.changelog.hidden_types,
    )
    return ModuleNotes(version=version, notes=notes)


def tag_message(mn: ModuleNotes, *, url: str | None) -> str:
    """An annotated tag's message: a title line, then the release notes without their heading."""
    v = mn.version
    body = render_notes(mn.notes, commit_url=url, heading=False).strip()
    return f"{v.module.path} {v.next}\n\n{body}\n"
