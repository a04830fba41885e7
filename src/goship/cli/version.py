"""``goship version``: what each module is at, what it should be next, and why."""

from __future__ import annotations

from typing import Annotated

from goship.cli._app import Parameter


def version(
    *,
    module: Annotated[list[str] | None, Parameter(name=["--module", "-m"], negative=())] = None,
    pre: str | None = None,
    json: Annotated[bool, Parameter(negative=())] = False,
    explain: Annotated[bool, Parameter(negative=())] = False,
) -> int:
    """Show each Go module's current version, its next version and the commits that decide it.

    Parameters
    ----------
    module
        Only this module (its directory relative to the repository root, or its module path); repeatable.
    pre
        Prerelease channel: 'rc' gives v1.4.0-rc.1, then rc.2; without it, the final version.
    json
        Print one JSON document: {"modules": [{"path", "dir", "tag_prefix", "current", "next",
        "bump", "commits", "ignored_tags", ...}]}.
    explain
        List every commit with the bump it causes and why, and every ignored tag with why.

    Example: goship version --module services/orders --explain
    """
    from goship.cli._session import open_session
    from goship.versioning.plan import plan_versions, version_json

    session = open_session()
    modules = session.repo.select(module or [])
    versions = plan_versions(session.repo, modules, session.config, pre=pre)
    if json:
        from goship.ui.console import print_json

        print_json({"modules": [version_json(v) for v in versions]})
        return 0
    from goship.ui.console import stdout
    from goship.ui.versions import render_versions

    render_versions(stdout(), versions, explain=explain)
    return 0
