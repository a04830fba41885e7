"""Release notes of planned versions: the one place that turns a module's commits into ReleaseNotes,
for ``goship changelog`` and for the messages of ``goship tag``."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from goship.config import GoshipConfig
from goship.deps.diff import diff_module
from goship.modfile import ModFileError, parse
from goship.modules import go_mod_of
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
    base_rev = since or (version.base.tag if version.base else None)
    notes = build_notes(
        bumps,
        title=version.next_tag or "Unreleased",
        date=date or release_date(),
        bots=config.changelog.bots,
        hidden_types=config.changelog.hidden_types,
        dependencies=dependency_updates(repo, version, base_rev, config) if base_rev else None,
    )
    return ModuleNotes(version=version, notes=notes)


def dependency_updates(
    repo: Repository, version: ModuleVersion, base_rev: str, config: GoshipConfig
) -> list[str] | None:
    """What the module's go.mod says changed since ``base_rev`` (``goship deps diff``'s reading):
    each direct requirement change, and the indirect ones counted. ``None`` when go.mod cannot tell
    (or says nothing changed: then the bots' commit subjects are all there is)."""
    rel = go_mod_of(version.module.dir)
    old_text, new_text = repo.git.show(base_rev, rel), repo.git.show("HEAD", rel)
    if old_text is None or new_text is None:
        return None
    try:
        old, new = parse(old_text, file=f"{base_rev}:{rel}"), parse(new_text, file=f"HEAD:{rel}")
    except ModFileError:
        return None  # the release notes are no place to fail on an old, broken go.mod
    changes = diff_module(version.module.dir, old=old, new=new, policy=config.deps.diff).requirements
    lines = [c.describe() for c in changes if c.direct]
    indirect = sum(not c.direct for c in changes)
    if indirect:
        lines.append(f"{indirect} indirect")
    return lines or None


def tag_message(mn: ModuleNotes, *, url: str | None) -> str:
    """An annotated tag's message: a title line, then the release notes without their heading."""
    v = mn.version
    body = render_notes(mn.notes, commit_url=url, heading=False).strip()
    return f"{v.module.path} {v.next}\n\n{body}\n"
