"""``goship tag``: create the release tags the commits call for, and refuse the wrong ones."""

from __future__ import annotations

from typing import Annotated

from goship.cli._app import Parameter
from goship.errors import UsageError


def tag(
    *,
    module: Annotated[list[str] | None, Parameter(name=["--module", "-m"], negative=())] = None,
    all: Annotated[bool, Parameter(name="--all", negative=())] = False,
    pre: str | None = None,
    sign: Annotated[bool | None, Parameter(negative="--no-sign")] = None,
    push: Annotated[bool, Parameter(negative=())] = False,
    remote: str | None = None,
    dry_run: Annotated[bool, Parameter(negative=())] = False,
    json: Annotated[bool, Parameter(negative=())] = False,
) -> int:
    """Create an annotated tag for every module with a releasable change (its message: the release notes).

    Refuses a dirty work tree, a version whose tag exists anywhere in the repository (tags never move),
    and a major version the module path does not carry (v2.0.0 needs /v2). With --push the new tags are
    pushed atomically; if anything fails, the tags made by this run are removed again.

    Parameters
    ----------
    module
        Only this module (directory relative to the repository root, or module path); repeatable.
    all
        Every module with a releasable change (the default when no --module is given).
    pre
        Prerelease channel: 'rc' tags v1.4.0-rc.1, then rc.2.
    sign
        Sign the tags with your git signing config (user.signingkey, gpg.format); default from goship.yaml.
    push
        Push the new tags (only those) to the remote.
    remote
        The remote for --push (default from goship.yaml: origin).
    dry_run
        Show the tags that would be created, create nothing.
    json
        Print one JSON document:
        {"tags": [{"tag", "module", "dir", "version", "commit"}], "dry_run", "signed", "pushed_to", "skipped"}.

    Example: goship tag --module services/orders --push
    """
    if all and module:
        raise UsageError(
            "--all and --module exclude each other", hint="name modules, or pass --all, not both"
        )
    from goship.cli._session import open_session
    from goship.versioning.notes import commit_url, notes_for, tag_message
    from goship.versioning.plan import plan_versions
    from goship.versioning.tagging import apply_tag_plan, plan_tags

    session = open_session()
    repo, config = session.repo, session.config
    versions = plan_versions(repo, repo.select(module or []), config, pre=pre)
    url = commit_url(repo, config)
    messages = {
        v.module.dir: tag_message(notes_for(repo, v, config), url=url) for v in versions if v.next is not None
    }
    push_to = (remote or config.tags.remote) if push else None
    if push_to is not None and repo.git.remote_url(push_to) is None:
        raise UsageError(
            f"--push: there is no remote {push_to!r} in this repository",
            hint="add it with 'git remote add', or name another with --remote",
        )
    plan = plan_tags(
        repo, versions, messages, sign=config.tags.sign if sign is None else sign, push_to=push_to
    )
    if not dry_run:
        apply_tag_plan(repo, plan)

    from goship.ui import console

    if json:
        console.print_json(
            {
                "tags": [
                    {
                        "tag": t.tag,
                        "module": t.module_path,
                        "dir": t.module_dir,
                        "version": t.version,
                        "commit": t.commit,
                    }
                    for t in plan.tags
                ],
                "dry_run": dry_run,
                "signed": plan.sign,
                "pushed_to": None if dry_run else plan.push_to,
                "skipped": list(plan.skipped),
            }
        )
        return 0
    if not plan.tags:
        console.info("nothing to tag: no module has a releasable change since its last release")
        return 0
    verb = "would create" if dry_run else "created"
    for t in plan.tags:
        console.info(
            f"{verb} {'signed ' if plan.sign else ''}tag {t.tag} at {t.commit[:12]} ({t.module_path})"
        )
        for note in t.notes:
            console.info(f"  note: {note}")
    if plan.push_to:
        console.info(f"{'would push' if dry_run else 'pushed'} {len(plan.tags)} tag(s) to {plan.push_to}")
    return 0
