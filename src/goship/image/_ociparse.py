"""Parsing the image configurations, manifests and indexes that layouts and registries hold (OCI, or Docker
schema 2), with messages that say what was expected. Re-exported by :mod:`goship.image.oci`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from goship.errors import UsageError
from goship.image._ocijson import _load, _obj, _str, _str_map, _strs
from goship.image._ocivalues import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST,
    ContainerConfig,
    Descriptor,
    History,
    ImageConfig,
    Index,
    Manifest,
    parse_digest,
)

_MANIFEST_TYPES = (MEDIA_TYPE_MANIFEST, DOCKER_MANIFEST)
_INDEX_TYPES = (MEDIA_TYPE_INDEX, DOCKER_MANIFEST_LIST)


def parse_config(data: bytes) -> ImageConfig:
    """An OCI (or Docker) image configuration."""
    obj = _load(data, "image config")
    arch = _str(obj, "architecture", "image config", required=True)
    os_ = _str(obj, "os", "image config", required=True)
    assert arch is not None and os_ is not None
    rootfs = _obj(obj.get("rootfs") or {}, "image config.rootfs")
    history = obj.get("history") or []
    if not isinstance(history, list):
        raise UsageError("image config.history: expected a list")
    return ImageConfig(
        architecture=arch,
        os=os_,
        variant=_str(obj, "variant", "image config"),
        created=_str(obj, "created", "image config"),
        config=ContainerConfig.from_json(obj.get("config"), "image config.config"),
        diff_ids=tuple(parse_digest(d) for d in _strs(rootfs, "diff_ids", "image config.rootfs")),
        history=tuple(History.from_json(h, f"image config.history[{i}]") for i, h in enumerate(history)),
    )


def _schema_2(obj: Mapping[str, object], what: str, allowed: Sequence[str]) -> str:
    if obj.get("schemaVersion") != 2:
        raise UsageError(f"{what}: expected schemaVersion 2 (not {obj.get('schemaVersion')!r})")
    media_type = _str(obj, "mediaType", what) or allowed[0]
    if media_type not in allowed:
        raise UsageError(f"{what}: expected mediaType {' or '.join(allowed)} (not {media_type!r})")
    return media_type


def _descriptors(obj: Mapping[str, object], key: str, what: str) -> tuple[Descriptor, ...]:
    value = obj.get(key) or []
    if not isinstance(value, list):
        raise UsageError(f"{what}.{key}: expected a list of descriptors")
    return tuple(Descriptor.from_json(d, f"{what}.{key}[{i}]") for i, d in enumerate(value))


def parse_manifest(data: bytes) -> Manifest:
    """An OCI image manifest (or a Docker schema 2 manifest)."""
    obj = _load(data, "manifest")
    media_type = _schema_2(obj, "manifest", _MANIFEST_TYPES)
    subject = obj.get("subject")
    return Manifest(
        media_type=media_type,
        config=Descriptor.from_json(obj.get("config"), "manifest.config"),
        layers=_descriptors(obj, "layers", "manifest"),
        annotations=_str_map(obj, "annotations", "manifest"),
        subject=Descriptor.from_json(subject, "manifest.subject") if subject is not None else None,
        artifact_type=_str(obj, "artifactType", "manifest"),
    )


def parse_index(data: bytes) -> Index:
    """An OCI image index (or a Docker manifest list)."""
    obj = _load(data, "index")
    media_type = _schema_2(obj, "index", _INDEX_TYPES)
    subject = obj.get("subject")
    return Index(
        media_type=media_type,
        manifests=_descriptors(obj, "manifests", "index"),
        annotations=_str_map(obj, "annotations", "index"),
        subject=Descriptor.from_json(subject, "index.subject") if subject is not None else None,
        artifact_type=_str(obj, "artifactType", "index"),
    )
