"""The OCI image spec's values and constants: descriptors, platforms, image configurations, manifests and
indexes, each serialised as canonical JSON. The public names are re-exported by :mod:`goship.image.oci`."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NewType

from goship.errors import UsageError
from goship.image._ocijson import _drop_empty, _keys, _obj, _str, _str_map, _strs

MEDIA_TYPE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
MEDIA_TYPE_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_TYPE_EMPTY = "application/vnd.oci.empty.v1+json"
"""The config of an artifact manifest that has no config of its own (OCI 1.1)."""
ARTIFACT_TYPE_SPDX = "application/spdx+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
_DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CREATED = "org.opencontainers.image.created"
ANNOTATION_VERSION = "org.opencontainers.image.version"
ANNOTATION_REVISION = "org.opencontainers.image.revision"
ANNOTATION_SOURCE = "org.opencontainers.image.source"
ANNOTATION_TITLE = "org.opencontainers.image.title"
ANNOTATION_BASE_NAME = "org.opencontainers.image.base.name"
ANNOTATION_BASE_DIGEST = "org.opencontainers.image.base.digest"

EMPTY_JSON = b"{}"
"""The content of the empty descriptor: the spec fixes it to these two bytes."""

Digest = NewType("Digest", str)
"""``algorithm:encoded``, e.g. ``sha256:`` and 64 lower-case hex digits."""

_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_SHA256 = re.compile(r"sha256:[a-f0-9]{64}")


def sha256_digest(data: bytes) -> Digest:
    """The ``sha256:…`` digest of ``data``."""
    return Digest("sha256:" + hashlib.sha256(data).hexdigest())


def parse_digest(text: str) -> Digest:
    """``text`` checked against the descriptor.md digest grammar (and the length of sha256 digests)."""
    if not _DIGEST.fullmatch(text) or (text.startswith("sha256:") and not _SHA256.fullmatch(text)):
        raise UsageError(f"expected a digest like sha256:<64 hex digits> (not {text!r})")
    return Digest(text)


def canonical_json(value: object) -> bytes:
    """The one serialisation goship writes: sorted keys, no white space, UTF-8 (no ``\\u`` escapes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def rfc3339(epoch: int) -> str:
    """``epoch`` seconds as the RFC 3339 UTC time the spec uses for ``created`` (``…T…Z``, no fraction)."""
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def oci_layer_media_type(media_type: str) -> str:
    """The OCI name of a layer media type: Docker's layer types hold the same bytes under another name."""
    return {DOCKER_LAYER_GZIP: MEDIA_TYPE_LAYER_GZIP, _DOCKER_LAYER_TAR: MEDIA_TYPE_LAYER_TAR}.get(
        media_type, media_type
    )


# --- descriptors --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Platform:
    """The platform an image runs on, as in an index entry (``linux/arm64/v8``)."""

    os: str
    """``GOOS``-style operating system, e.g. ``linux``."""
    architecture: str
    """``GOARCH``-style architecture, e.g. ``amd64`` or ``arm64``."""
    variant: str | None = None
    """CPU variant, e.g. ``v7`` for ``arm`` (``GOARM``); None when the architecture has only one."""

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``os/arch`` or ``os/arch/variant``."""
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(f"expected a platform like linux/amd64 or linux/arm/v7 (not {text!r})")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    @property
    def sort_key(self) -> tuple[str, str, str]:
        """For a stable order of index entries (no variant sorts first)."""
        return (self.os, self.architecture, self.variant or "")

    def to_json(self) -> dict[str, object]:
        return _drop_empty({"os": self.os, "architecture": self.architecture, "variant": self.variant})

    @classmethod
    def from_json(cls, value: object, where: str = "platform") -> Platform:
        obj = _obj(value, where)
        os_ = _str(obj, "os", where, required=True)
        arch = _str(obj, "architecture", where, required=True)
        assert os_ is not None and arch is not None
        return cls(os_, arch, _str(obj, "variant", where))


@dataclass(frozen=True)
class Descriptor:
    """A typed, sized, content-addressed reference to a blob (descriptor.md)."""

    media_type: str
    """What the blob is, e.g. :data:`MEDIA_TYPE_MANIFEST`."""
    digest: Digest
    """Digest of the blob's bytes."""
    size: int
    """Length of the blob in bytes."""
    annotations: Mapping[str, str] = field(default_factory=dict)
    """Free-form metadata; in a layout's index.json it carries the ref name."""
    platform: Platform | None = None
    """For entries of an index: the platform the manifest is for."""
    artifact_type: str | None = None
    """For manifests of artifacts (OCI 1.1): the artifact's type, e.g. :data:`ARTIFACT_TYPE_SPDX`."""
    urls: tuple[str, ...] = ()
    """Other places the blob may be fetched from (foreign layers); kept so they survive a round trip."""

    def to_json(self) -> dict[str, object]:
        return _drop_empty(
            {
                "mediaType": self.media_type,
                "digest": self.digest,
                "size": self.size,
                "annotations": dict(self.annotations),
                "platform": self.platform.to_json() if self.platform else None,
                "artifactType": self.artifact_type,
                "urls": list(self.urls),
            }
        )

    @classmethod
    def from_json(cls, value: object, where: str = "descriptor") -> Descriptor:
        obj = _obj(value, where)
        size = obj.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise UsageError(f"{where}.size: expected a non-negative integer (not {size!r})")
        media_type = _str(obj, "mediaType", where, required=True)
        digest = _str(obj, "digest", where, required=True)
        assert media_type is not None and digest is not None
        platform = obj.get("platform")
        return cls(
            media_type=media_type,
            digest=parse_digest(digest),
            size=size,
            annotations=_str_map(obj, "annotations", where),
            platform=Platform.from_json(platform, f"{where}.platform") if platform is not None else None,
            artifact_type=_str(obj, "artifactType", where),
            urls=_strs(obj, "urls", where),
        )


def describe(
    data: bytes,
    media_type: str,
    *,
    annotations: Mapping[str, str] | None = None,
    platform: Platform | None = None,
    artifact_type: str | None = None,
) -> Descriptor:
    """The descriptor of ``data``."""
    return Descriptor(
        media_type,
        sha256_digest(data),
        len(data),
        annotations=dict(annotations or {}),
        platform=platform,
        artifact_type=artifact_type,
    )


def empty_descriptor() -> Descriptor:
    """The descriptor of :data:`EMPTY_JSON`, the config (or only layer) of an artifact with no content."""
    return describe(EMPTY_JSON, MEDIA_TYPE_EMPTY)


# --- image configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerConfig:
    """The ``config`` object of an image configuration: how a container of the image starts."""

    user: str | None = None
    """``User``: ``name``, ``uid`` or ``uid:gid``; None runs as whatever the runtime picks (root)."""
    env: tuple[str, ...] = ()
    """``Env``: ``NAME=value`` entries, in order."""
    entrypoint: tuple[str, ...] = ()
    """``Entrypoint``: the program and its first arguments."""
    cmd: tuple[str, ...] = ()
    """``Cmd``: default arguments appended to the entrypoint."""
    working_dir: str | None = None
    """``WorkingDir``: the current directory of the process."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """``Labels``: free-form metadata, visible to ``docker inspect``."""
    exposed_ports: tuple[str, ...] = ()
    """``ExposedPorts``: ``8080/tcp``-style ports, sorted."""
    volumes: tuple[str, ...] = ()
    """``Volumes``: directories meant to be mounted, sorted."""
    stop_signal: str | None = None
    """``StopSignal``, e.g. ``SIGTERM``."""

    def to_json(self) -> dict[str, object]:
        return _drop_empty(
            {
                "User": self.user,
                "Env": list(self.env),
                "Entrypoint": list(self.entrypoint),
                "Cmd": list(self.cmd),
                "WorkingDir": self.working_dir,
                "Labels": dict(self.labels),
                "ExposedPorts": {p: {} for p in sorted(self.exposed_ports)},
                "Volumes": {v: {} for v in sorted(self.volumes)},
                "StopSignal": self.stop_signal,
            }
        )

    @classmethod
    def from_json(cls, value: object, where: str = "config") -> ContainerConfig:
        obj = _obj(value or {}, where)
        return cls(
            user=_str(obj, "User", where) or None,
            env=_strs(obj, "Env", where),
            entrypoint=_strs(obj, "Entrypoint", where),
            cmd=_strs(obj, "Cmd", where),
            working_dir=_str(obj, "WorkingDir", where) or None,
            labels=_str_map(obj, "Labels", where),
            exposed_ports=_keys(obj, "ExposedPorts", where),
            volumes=_keys(obj, "Volumes", where),
            stop_signal=_str(obj, "StopSignal", where) or None,
        )


@dataclass(frozen=True)
class History:
    """One entry of the image's history: how a layer (or a config-only step) came about."""

    created: str | None = None
    """RFC 3339 time of the step."""
    created_by: str | None = None
    """The command or tool that made the step."""
    comment: str | None = None
    """Why, or what the layer holds."""
    empty_layer: bool = False
    """True when the step changed only the config and added no layer."""

    def to_json(self) -> dict[str, object]:
        return _drop_empty(
            {
                "created": self.created,
                "created_by": self.created_by,
                "comment": self.comment,
                "empty_layer": self.empty_layer or None,
            }
        )

    @classmethod
    def from_json(cls, value: object, where: str = "history") -> History:
        obj = _obj(value, where)
        return cls(
            created=_str(obj, "created", where),
            created_by=_str(obj, "created_by", where),
            comment=_str(obj, "comment", where),
            empty_layer=obj.get("empty_layer") is True,
        )


@dataclass(frozen=True)
class ImageConfig:
    """The image configuration (config.md): platform, start-up settings and the layers' diff IDs."""

    architecture: str
    """``GOARCH``-style architecture."""
    os: str
    """``GOOS``-style operating system."""
    config: ContainerConfig
    """How a container of the image starts."""
    diff_ids: tuple[Digest, ...]
    """``rootfs.diff_ids``: digests of the uncompressed layer tars, base first."""
    history: tuple[History, ...] = ()
    """One entry per step, base first."""
    created: str | None = None
    """RFC 3339 creation time (from SOURCE_DATE_EPOCH, so rebuilds agree)."""
    variant: str | None = None
    """CPU variant, e.g. ``v7``."""

    @property
    def platform(self) -> Platform:
        return Platform(self.os, self.architecture, self.variant)

    def to_json(self) -> dict[str, object]:
        return _drop_empty(
            {
                "architecture": self.architecture,
                "os": self.os,
                "variant": self.variant,
                "created": self.created,
                "config": self.config.to_json(),
                "rootfs": {"type": "layers", "diff_ids": list(self.diff_ids)},
                "history": [h.to_json() for h in self.history],
            }
        )

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    def descriptor(self) -> Descriptor:
        return describe(self.to_bytes(), MEDIA_TYPE_CONFIG)


# --- manifests and indexes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    """An image manifest (manifest.md): one config and the layers, or an OCI 1.1 artifact."""

    config: Descriptor
    """The image configuration (or :func:`empty_descriptor` for an artifact)."""
    layers: tuple[Descriptor, ...]
    """The layers, base first; for an artifact, its blobs."""
    annotations: Mapping[str, str] = field(default_factory=dict)
    """``org.opencontainers.image.*`` metadata: version, revision, source, created, base image…"""
    subject: Descriptor | None = None
    """The manifest this one refers to (a signature or SBOM of an image), for the referrers API."""
    artifact_type: str | None = None
    """The type of an artifact manifest, e.g. :data:`ARTIFACT_TYPE_SPDX`."""
    media_type: str = MEDIA_TYPE_MANIFEST
    """:data:`MEDIA_TYPE_MANIFEST`; :data:`DOCKER_MANIFEST` only for manifests read from elsewhere."""

    def to_json(self) -> dict[str, object]:
        return _drop_empty(
            {
                "schemaVersion": 2,
                "mediaType": self.media_type,
                "artifactType": self.artifact_type,
                "config": self.config.to_json(),
                "layers": [d.to_json() for d in self.layers],
                "subject": self.subject.to_json() if self.subject else None,
                "annotations": dict(self.annotations),
            }
        ) | {"layers": [d.to_json() for d in self.layers]}  # required, even when empty

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    def descriptor(self, *, platform: Platform | None = None) -> Descriptor:
        return describe(self.to_bytes(), self.media_type, platform=platform, artifact_type=self.artifact_type)


@dataclass(frozen=True)
class Index:
    """An image index (image-index.md): one manifest per platform, or the refs of a layout."""

    manifests: tuple[Descriptor, ...]
    """The manifests (each with its platform) or nested indexes."""
    annotations: Mapping[str, str] = field(default_factory=dict)
    """``org.opencontainers.image.*`` metadata of the whole set."""
    subject: Descriptor | None = None
    """The manifest this index refers to, for the referrers API."""
    artifact_type: str | None = None
    """The type of an artifact index."""
    media_type: str = MEDIA_TYPE_INDEX
    """:data:`MEDIA_TYPE_INDEX`; :data:`DOCKER_MANIFEST_LIST` only for lists read from elsewhere."""

    def to_json(self) -> dict[str, object]:
        return _drop_empty(
            {
                "schemaVersion": 2,
                "mediaType": self.media_type,
                "artifactType": self.artifact_type,
                "subject": self.subject.to_json() if self.subject else None,
                "annotations": dict(self.annotations),
            }
        ) | {"manifests": [d.to_json() for d in self.manifests]}  # required, even when empty

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    def descriptor(self) -> Descriptor:
        return describe(self.to_bytes(), self.media_type, artifact_type=self.artifact_type)


def artifact_manifest(
    artifact_type: str,
    blobs: Sequence[Descriptor],
    *,
    subject: Descriptor | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Manifest:
    """An OCI 1.1 artifact (an SBOM, a signature) attached to ``subject``: empty config, ``blobs`` as
    layers. The spec wants at least one layer, so an artifact with no blobs gets the empty descriptor."""
    return Manifest(
        config=empty_descriptor(),
        layers=tuple(blobs) or (empty_descriptor(),),
        annotations=dict(annotations or {}),
        subject=subject,
        artifact_type=artifact_type,
    )
