"""``goship changelog``: release notes of the next release, printed or prepended to CHANGELOG.md."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from goship.cli._app import Parameter
from goship.errors import UsageError


def changelog(
    *,
    module: Annotated[list[str] | None, Parameter(name=["--module", "-m"], negative=())] = None,
    since: str | None = None,
    write: Path | None = None,
    pre: str | None = None,
    dry_run: Annotated[bool, Parameter(negative=())] = False,
    json: Annotated[bool, Parameter(negative=())] = False,
) -> int:
    """Write Markdown release notes: Breaking changes, Features, Fixes, Performance, Other.

    Parameters
    ----------
    module
        Only this module (directory relative to the repository root, or module path); repeatable.
    since
        Notes for the commits since this git revision instead of since the last release.
    write
        Prepend the notes to this file (e.g. CHANGELOG.md) in Keep a Changelog form.
    pre
        Title the notes with the next prerelease of this channel (e.g. rc).
    dry_run
        With --write: show what would be written, change nothing.
    json
        Print one JSON document: {"releases": [{"module", "dir", "title", "date", "sections", "markdown"}]}.

    Example: goship changelog --write CHANGELOG.md
    """
    from goship.cli._session import open_session
    from goship.versioning.changelog import prepend_release, render_notes
    from goship.versioning.notes import commit_url, notes_for
    from goship.versioning.plan import plan_versions

    session = open_session()
    repo, config = session.repo, session.config
    if since is not None and repo.git.rev_parse(since) is None:
        raise UsageError(
            f"--since {since!r} names no commit in this repository",
            hint="give a tag, branch or commit hash (e.g. --since v1.2.0)",
        )
    versions = plan_versions(repo, repo.select(module or []), config, pre=pre)
    if since is None:
        versions = [v for v in versions if v.next is not None]
    url = commit_url(repo, config)
    releases = [notes_for(repo, v, config, since=since) for v in versions]
    releases = [r for r in releases if not r.notes.empty or since is None]
    texts = [render_notes(r.notes, commit_url=url) for r in releases]

    from goship.ui import console

    if json:
        console.print_json(
            {
                "releases": [
                    {
                        "module": r.version.module.path,
                        "dir": r.version.module.dir,
                        "title": r.notes.title,
                        "date": r.notes.date,
                        "sections": [
                            {"title": t, "entries": [{"text": e.text, "sha": e.sha} for e in entries]}
                            for t, entries in r.notes.sections
                        ],
                        "markdown": text,
                    }
                    for r, text in zip(releases, texts, strict=True)
                ],
                "written": str(write) if write and not dry_run and releases else None,
            }
        )
    if not releases:
        console.info("no releasable changes: nothing for release notes (goship version --explain says why)")
        return 0
    if write is None:
        if not json:
            print("\n".join(texts), end="")
        return 0
    existing = write.read_text(encoding="utf-8") if write.exists() else None
    updated = existing
    for r, text in zip(reversed(releases), reversed(texts), strict=True):
        updated = prepend_release(updated, text, title=r.notes.title)
    assert updated is not None
    if dry_run:
        if not json:
            console.info(f"dry run: would write {len(releases)} release(s) to {write}:")
            print("\n".join(texts), end="")
        return 0
    write.parent.mkdir(parents=True, exist_ok=True)
    write.write_text(updated, encoding="utf-8")
    if not json:
        console.info(f"wrote {', '.join(r.notes.title for r in releases)} to {write}")
    return 0
