"""``goship tag``: plan the release tags, refuse the wrong ones, then create (and push) them all or none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from goship.errors import CheckFailedError, GoshipError
from goship.versioning.plan import ModuleVersion, Repository


class DirtyTreeError(CheckFailedError):
    """The work tree has changes, so HEAD is not what would be released."""


@dataclass(frozen=True)
class PlannedTag:
    module_path: str
    module_dir: str
    tag: str
    version: str
    commit: str
    message: str
    """The annotated tag's message: the module's release notes."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TagPlan:
    tags: tuple[PlannedTag, ...]
    sign: bool
    push_to: str | None
    """The remote to push the new tags to, or ``None``."""
    skipped: tuple[str, ...] = ()
    """Modules with nothing to release, said plainly."""


def plan_tags(
    repo: Repository,
    versions: Sequence[ModuleVersion],
    messages: dict[str, str],
    *,
    sign: bool,
    push_to: str | None,
) -> TagPlan:
    """Every check before anything is tagged: a clean tree, and no refused version in any module."""
    dirty = repo.git.dirty_paths()
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise DirtyTreeError(
            f"the work tree has uncommitted changes ({shown}); a tag on HEAD would not release them",
            hint="commit or stash them first ('git stash -u'), then run goship tag again",
        )
    refused = [v for v in versions if v.refusal is not None]
    if refused:
        first = refused[0].refusal
        assert first is not None
        details = [f"{v.module.dir}: {v.refusal.message}" for v in refused if v.refusal is not None]
        raise type(first)(
            first.message if len(refused) == 1 else f"{len(refused)} modules cannot be tagged",
            hint=first.hint,
            details=details if len(refused) > 1 else [],
        )
    planned = []
    skipped = []
    for v in versions:
        if v.next is None:
            skipped.append(v.module.dir)
            continue
        tag = v.module.tag(v.next)
        planned.append(
            PlannedTag(
                module_path=v.module.path,
                module_dir=v.module.dir,
                tag=tag,
                version=v.next,
                commit=repo.head,
                message=messages.get(v.module.dir, tag),
                notes=v.notes,
            )
        )
    return TagPlan(tags=tuple(planned), sign=sign, push_to=push_to, skipped=tuple(skipped))


def apply_tag_plan(repo: Repository, plan: TagPlan) -> None:
    """Create every planned tag, then push them atomically; on any failure remove the tags made here."""
    created: list[str] = []
    try:
        for t in plan.tags:
            repo.git.create_tag(t.tag, t.commit, message=t.message, sign=plan.sign)
            created.append(t.tag)
        if plan.push_to is not None and created:
            repo.git.push_refs(plan.push_to, [f"refs/tags/{name}" for name in created], atomic=True)
    except GoshipError as exc:
        for name in reversed(created):
            repo.git.delete_tag(name)
        undone = f" (removed the {len(created)} local tag(s) created before it)" if created else ""
        exc.message = f"{exc.message}{undone}"
        exc.args = (exc.message,)
        if exc.hint is None:
            exc.hint = (
                "check your signing setup ('git config user.signingkey', 'gpg.format')"
                if plan.sign and plan.push_to is None
                else "fix the cause and run goship tag again: nothing was released"
            )
        raise
