"""``goship publish``: build what is not built for HEAD, then push it with its exact and rolling tags."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from goship.cli._app import Parameter


def publish(
    *,
    service: Annotated[list[str] | None, Parameter(negative=())] = None,
    platform: Annotated[list[str] | None, Parameter(negative=())] = None,
    store: Path | None = None,
    force: Annotated[bool, Parameter(negative=())] = False,
    insecure: Annotated[bool, Parameter(negative=())] = False,
    dry_run: Annotated[bool, Parameter(negative=())] = False,
    json: Annotated[bool, Parameter(negative=())] = False,
) -> int:
    """Push each service's image for HEAD (its release tag, else a dev version) to its registry: blobs,
    manifests by digest, SBOMs, then the exact tag, then the rolling tags (vX.Y, vX, latest) — which move
    only when this is the newest release of their group, judged from the registry's tags and git's.

    Parameters
    ----------
    service
        Only this service; repeatable.
    platform
        Build for this platform instead of the configured ones; repeatable.
    store
        goship's local OCI image layout (default: images.store, else ~/.cache/goship/store/<repo>).
    force
        Let the exact tag move to a different digest (replacing a broken release on purpose).
    insecure
        Plain http, allowed only for a registry on a loopback address (tests, local registries).
    dry_run
        Print the plan (what each tag does and why), push nothing.
    json
        Print one JSON document: {"images": [{"service", "repository", "digest", "platforms",
        "tags": [{"tag", "action", "previous", "reason"}], "sbom"}], "dry_run"}.

    Example: goship publish --dry-run
    """
    from concurrent.futures import ThreadPoolExecutor

    from goship.cli._images import open_images
    from goship.image.services import repository_of, split_repository
    from goship.ui import console
    from goship.versioning.tags import classify_tags

    if TYPE_CHECKING:
        from goship.image.publish import RegistryTags
        from goship.image.registry import Registry

    images = open_images(names=service or [], platforms=platform or [], store=store, insecure=insecure)
    repo = images.session.repo
    templates = images.session.config.images.tags
    records: list[dict[str, object]] = []
    pushed: dict[str, str] = {}
    registries: dict[str, Registry] = {}

    def registry_for(repository: str) -> Registry:
        host = split_repository(repository)[0]
        if host not in registries:
            registries[host] = images.open_registry(host)
        return registries[host]

    def read(repository: str, version: str | None, commit: str) -> RegistryTags:
        # Run beside the build, so the registry client is imported (and connects) while Go compiles.
        from goship.image.publish import read_tags

        return read_tags(
            registry_for(repository), repository, version=version, commit=commit, templates=templates
        )

    with tempfile.TemporaryDirectory(prefix="goship-publish-") as work, ThreadPoolExecutor(1) as reader:
        for s in images.services:
            repository = repository_of(s.name, s.repository)
            identity = images.identity(s)
            binaries = images.start_builds(s, identity, Path(work), cache=True)
            # While Go builds: the registry's tags are read (they do not depend on the image) and the
            # image stack is imported.
            version = identity.version if identity.released else None
            tags = reader.submit(read, repository, version, identity.commit)
            builder = images.builder(Path(work), cache=True)
            built = builder.build(s, identity, binaries=binaries.result())
            # Imported by the reader meanwhile; here it is only looked up.
            from goship.image.publish import plan_publish, push, release_record, save_record

            git_versions = [r.version for r in classify_tags(s.module, repo.modules, repo.tags).releases]
            plan = plan_publish(
                built, tags.result(), git_versions=git_versions, templates=templates, force=force
            )
            if dry_run:
                records.append(release_record(plan))
                continue
            record = push(registry_for(repository), images.store, plan, pushed=pushed)
            save_record(images.store, record)
            records.append(record)
    if json:
        console.print_json({"images": records, "dry_run": dry_run})
        return 0
    for record in records:
        console.info(f"{'plan for' if dry_run else 'published'} {record['repository']}@{record['digest']}")
        for t in record["tags"]:  # type: ignore[attr-defined]
            before = t["previous"][:19] + "…" if t["previous"] else "(none)"
            console.info(
                f"  {t['tag']}: {t['action']} — {before} → {str(record['digest'])[:19]}…  ({t['reason']})"
            )
    return 0
