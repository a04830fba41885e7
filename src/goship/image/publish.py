"""``goship publish``: push a built image to its registry — blobs, then platform manifests by digest,
SBOM referrers, the index, then the exact tag, then the rolling tags, each verified — so a failure at any
point leaves nothing that names a half-pushed image, and a rolling tag never moves before its exact tag."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from goship.config import ImageTagsConfig
from goship.errors import RegistryError
from goship.image.build import BuiltImage
from goship.image.layout import Layout, StoredImage
from goship.image.registry import Registry
from goship.image.services import repository_of, split_repository
from goship.image.tags import TagAction, check_templates, plan_tags, version_of

CHUNK_SIZE = 8 << 20
PARALLEL_UPLOADS = 4
"""Blobs (and then manifests) sent at once: a release is a handful of round trips, not dozens in a row."""


@dataclass(frozen=True)
class PublishPlan:
    """What publishing one image will do."""

    service: str
    repository: str
    """``host/path`` of the image."""
    digest: str
    version: str
    released: bool
    commit: str
    platforms: tuple[str, ...]
    tags: tuple[TagAction, ...]
    sboms: tuple[str, ...]

    @property
    def host(self) -> str:
        return split_repository(self.repository)[0]

    @property
    def repo(self) -> str:
        return split_repository(self.repository)[1]


@dataclass(frozen=True)
class RegistryTags:
    """What a repository says before a publish: the digest of each tag the release may touch, and the
    versions its tags name (for which release is the newest of a group)."""

    existing: Mapping[str, str]
    published: tuple[str, ...]


def read_tags(
    registry: Registry, repository: str, *, version: str | None, commit: str, templates: ImageTagsConfig
) -> RegistryTags:
    """The registry's side of the plan. It needs no image, so ``goship publish`` reads it while it builds."""
    check_templates(templates)
    _, repo = split_repository(repository)
    names = [
        a.tag
        for a in plan_tags(
            version=version, commit=commit, digest="", existing={}, known_versions=[], templates=templates
        )
    ]
    existing = {name: found[0] for name in names if (found := registry.head_manifest(repo, name)) is not None}
    published = tuple(v for t in registry.list_tags(repo) if (v := version_of(templates, t)))
    return RegistryTags(existing=existing, published=published)


def plan_publish(
    built: BuiltImage,
    tags: RegistryTags,
    *,
    git_versions: Iterable[str],
    templates: ImageTagsConfig,
    force: bool = False,
) -> PublishPlan:
    """Decide every tag's fate from the registry's tags (:func:`read_tags`) and git's; refuses a taken
    exact tag before anything is pushed."""
    repository = repository_of(built.service, built.repository)
    check_templates(templates)
    actions = plan_tags(
        version=built.version if built.released else None,
        commit=built.commit,
        digest=built.digest,
        existing=tags.existing,
        known_versions=[*tags.published, *git_versions],
        templates=templates,
        force=force,
    )
    return PublishPlan(
        service=built.service,
        repository=repository,
        digest=built.digest,
        version=built.version,
        released=built.released,
        commit=built.commit,
        platforms=tuple(p.platform for p in built.platforms),
        tags=tuple(actions),
        sboms=tuple(p.sbom for p in built.platforms if p.sbom),
    )


def push(
    registry: Registry,
    store: Layout,
    plan: PublishPlan,
    *,
    pushed: MutableMapping[str, str] | None = None,
) -> dict[str, object]:
    """Carry out ``plan``; returns the release record. ``pushed`` (blob digest → repository) lets later
    images of the same run mount blobs instead of uploading them again."""
    repo = plan.repo
    seen = pushed if pushed is not None else {}
    index = store.read(plan.digest)
    # The index goes last of the content: once the registry has it, everything it needs is there,
    # so a re-run (or an unchanged release) skips straight to the tags.
    if registry.head_manifest(repo, plan.digest) is None:
        images = [i for i in getattr(index, "images", ()) if isinstance(i, StoredImage)]
        sboms = [a for a in map(store.read, plan.sboms) if isinstance(a, StoredImage)]
        blobs = dict.fromkeys(d for i in (*images, *sboms) for d in _blobs_of(i))

        def blob(digest: str) -> None:
            _push_blob(registry, store, repo, digest, seen, plan.host)

        def manifest(image: StoredImage) -> None:
            _put(registry, repo, image.descriptor.digest, store, image.descriptor.media_type)

        def referrer(artifact: StoredImage) -> None:
            data = store.read_blob(artifact.descriptor.digest)
            registry.put_referrer(repo, data, artifact.descriptor.media_type)

        # Every blob side by side, then the manifests that name them, then the SBOMs that name those.
        with ThreadPoolExecutor(max_workers=PARALLEL_UPLOADS) as pool:
            for step, items in ((blob, list(blobs)), (manifest, images), (referrer, sboms)):
                list(pool.map(step, items))
        _put(registry, repo, plan.digest, store, index.descriptor.media_type)
    body = store.read_blob(plan.digest)  # type: ignore[arg-type]
    for action in plan.tags:  # the exact tag comes first in the plan, rolling tags after it
        if action.action not in ("created", "moved"):
            continue
        registry.put_manifest(repo, action.tag, body, index.descriptor.media_type)
        now = registry.head_manifest(repo, action.tag)
        if now is None or now[0] != plan.digest:
            raise RegistryError(
                f"{plan.repository}:{action.tag} should name {plan.digest} after the push, "
                f"but names {now[0] if now else 'nothing'}",
                hint="another publisher may be writing the same tags; run goship publish again",
            )
    return release_record(plan)


def release_record(plan: PublishPlan) -> dict[str, object]:
    """The record of one published image (``goship publish --json`` lists these)."""
    return {
        "service": plan.service,
        "repository": plan.repository,
        "digest": plan.digest,
        "version": plan.version,
        "commit": plan.commit,
        "platforms": list(plan.platforms),
        "tags": [
            {"tag": a.tag, "action": a.action, "previous": a.previous, "reason": a.reason} for a in plan.tags
        ],
        "sbom": plan.sboms[0] if plan.sboms else None,
        "sboms": list(plan.sboms),
    }


def record_path(store_root: Path, service: str, version: str) -> Path:
    """Where the release record of ``service`` at ``version`` is kept: ``releases/<service>/<version>.json``
    beside the store (read back by ``goship deploy``)."""
    return store_root / "releases" / service / f"{version}.json"


def save_record(store: Layout, record: dict[str, object]) -> Path:
    """Keep the release record beside the store: ``releases/<service>/<version>.json``."""
    path = record_path(store.root, str(record["service"]), str(record["version"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _blobs_of(image: StoredImage) -> list[str]:
    return [image.manifest.config.digest, *(d.digest for d in image.layers)]


def _put(registry: Registry, repo: str, digest: str, store: Layout, media_type: str) -> None:
    registry.put_manifest(repo, digest, store.read_blob(digest), media_type)  # type: ignore[arg-type]


def _push_blob(
    registry: Registry,
    store: Layout,
    repo: str,
    digest: str,
    seen: MutableMapping[str, str],
    host: str,
) -> None:
    key = f"{host}/{digest}"
    if registry.blob_exists(repo, digest) is not None:
        seen[key] = repo
        return
    source = seen.get(key)
    if source and source != repo and registry.mount_blob(repo, digest, source):
        return
    path = store.blob_path(digest)  # type: ignore[arg-type]
    # Large blobs go in chunks, so a dropped connection costs one chunk, not the whole layer.
    chunk = CHUNK_SIZE if path.stat().st_size > CHUNK_SIZE else None
    registry.upload_blob(repo, path, digest, chunk_size=chunk)
    seen[key] = repo
