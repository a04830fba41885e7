"""Base images pulled from a registry by digest (``registry.example.com/base/static@sha256:…``), for one
platform, with their blobs copied into goship's local store."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from goship.errors import UsageError
from goship.image.base import PulledBase
from goship.image.layout import Layout
from goship.image.oci import Platform, parse_config, parse_index, parse_manifest

_BY_DIGEST = re.compile(
    r"(?P<host>[^/]+)/(?P<repo>[^@:]+(?:/[^@:]+)*)(?::(?P<tag>[\w][\w.-]*))?@(?P<digest>sha256:[a-f0-9]{64})"
)

if TYPE_CHECKING:
    from goship.image.registry import Registry

RegistryFactory = Callable[[str], "Registry"]
"""Opens a client for a registry host (credentials and transport decided by the caller)."""


def split_reference(reference: str) -> tuple[str, str, str | None, str]:
    """``host/repo[:tag]@sha256:…`` → host, repository, tag, digest; a base must be pinned by digest."""
    m = _BY_DIGEST.fullmatch(reference)
    if not m or ("." not in m["host"] and ":" not in m["host"] and m["host"] != "localhost"):
        raise UsageError(
            f"base {reference!r}: expected 'static', 'scratch' or an image pinned by digest, "
            "such as registry.example.com/base/static@sha256:<64 hex>",
            hint="a base pulled by tag could change under you; pin it: look up the digest with "
            "'skopeo inspect docker://IMAGE' and write IMAGE@sha256:…",
        )
    return m["host"], m["repo"], m["tag"], m["digest"]


def pull_base(
    reference: str, platform: Platform, store: Layout, open_registry: RegistryFactory
) -> PulledBase:
    """The base for ``platform``: manifest (through the index if there is one), config and layer blobs."""
    host, repo, tag, digest = split_reference(reference)
    registry = open_registry(host)
    served = registry.get_manifest(repo, digest)
    if served is None:
        raise UsageError(f"base {reference}: the registry has no such manifest", hint="check the digest")
    if served.media_type.endswith(("index.v1+json", "manifest.list.v2+json")):
        index = parse_index(served.body)
        entry = next((d for d in index.manifests if d.platform == platform), None)
        if entry is None:
            have = ", ".join(str(d.platform) for d in index.manifests if d.platform) or "none"
            raise UsageError(f"base {reference} has no image for {platform} (it has {have})")
        served = registry.get_manifest(repo, entry.digest)
        if served is None:
            raise UsageError(f"base {reference}: the registry lost {entry.digest} of its index")
    manifest = parse_manifest(served.body)
    config_bytes = registry.get_blob(repo, manifest.config.digest)
    store.put_blob(config_bytes, digest=manifest.config.digest)
    layer_blobs = {}
    for layer in manifest.layers:
        if not store.has_blob(layer.digest):
            store.put_blob(registry.get_blob(repo, layer.digest), digest=layer.digest)
        layer_blobs[layer.digest] = store.blob_path(layer.digest)
    return PulledBase(
        repository=f"{host}/{repo}",
        digest=digest,  # type: ignore[arg-type]
        manifest=manifest,
        config=parse_config(config_bytes),
        tag=tag,
        layer_blobs=layer_blobs,
    )
