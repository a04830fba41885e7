"""goship's local image store: an OCI image layout directory (OCI image spec v1.1 image-layout.md), the
same format ``skopeo``, ``umoci``, ``crane`` and ``oras`` read.

``oci-layout`` names the layout version, ``blobs/sha256/<hex>`` holds content-addressed blobs and
``index.json`` (an image index) names what is stored, by ``org.opencontainers.image.ref.name``. Blobs are
written to a temporary file and renamed, so a reader never sees half a blob, and a blob already there is
not written again. Two processes may write different refs at once: edits of ``index.json`` are serialised
by one lock file, and garbage collection takes another lock that writers hold shared while their blobs
are not yet referenced, so it never deletes a blob an unfinished write is about to name.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from goship.errors import CheckFailedError, UsageError
from goship.image.compose import ComposedImage, ComposedIndex
from goship.image.layers import Layer
from goship.image.oci import (
    ANNOTATION_REF_NAME,
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST,
    Descriptor,
    Digest,
    ImageConfig,
    Index,
    Manifest,
    Platform,
    canonical_json,
    describe,
    parse_config,
    parse_digest,
    parse_index,
    parse_manifest,
)

__all__ = ["LAYOUT_VERSION", "Layout", "StoredImage", "StoredIndex", "check_ref_name"]

LAYOUT_VERSION = "1.0.0"
"""The ``imageLayoutVersion`` of image-layout.md (still 1.0.0 in image spec v1.1)."""

_MANIFESTS = (MEDIA_TYPE_MANIFEST, DOCKER_MANIFEST)
_INDEXES = (MEDIA_TYPE_INDEX, DOCKER_MANIFEST_LIST)
_COMPONENT = r"[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*"
_REF_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_CHUNK = 1 << 20
_TEMP_PREFIX = ".tmp-"


def check_ref_name(ref: str) -> str:
    """``ref`` checked against the grammar annotations.md gives ``org.opencontainers.image.ref.name``."""
    if not _REF_NAME.fullmatch(ref):
        raise UsageError(
            f"expected a ref name like v1.2.0 or shop/api:v1.2.0 (not {ref!r})",
            hint="letters and digits, separated by one of - . _ : @ + or --, in /-separated parts",
        )
    return ref


@dataclass(frozen=True)
class StoredImage:
    """An image manifest read back from the layout, with its config."""

    descriptor: Descriptor
    """Descriptor of the manifest as stored (its digest is that of the stored bytes)."""
    manifest: Manifest
    """The manifest."""
    config: ImageConfig | None
    """The image configuration; None for an artifact, whose config is not one."""

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        return self.manifest.layers


@dataclass(frozen=True)
class StoredIndex:
    """An image index read back from the layout, with its images."""

    descriptor: Descriptor
    """Descriptor of the index as stored."""
    index: Index
    """The index."""
    images: tuple[StoredImage, ...]
    """The image manifests it lists, in its order (nested indexes are not followed)."""

    def image_for(self, platform: Platform) -> StoredImage:
        for image in self.images:
            if image.descriptor.platform == platform:
                return image
        known = ", ".join(str(i.descriptor.platform) for i in self.images) or "none"
        raise UsageError(f"the index {self.descriptor.digest} has no image for {platform} (it has {known})")


_OWN_FILES = {".goship-index.lock", ".goship-gc.lock", "blobs"}
"""What a layout being created by another process may already hold."""


class Layout:
    """An OCI image layout directory, created on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs" / "sha256"
        marker = root / "oci-layout"
        if marker.is_file() and (root / "index.json").is_file():
            self._check_marker(marker)
            return
        if root.exists() and not root.is_dir():
            raise UsageError(f"{root} exists and is not an OCI image layout (no oci-layout file)")
        root.mkdir(parents=True, exist_ok=True)
        # Two processes may create the same layout at once: one creates, the other finds it made.
        with self._lock(".goship-index.lock", fcntl.LOCK_EX):
            if marker.is_file():
                self._check_marker(marker)
            elif any(p.name not in _OWN_FILES for p in root.iterdir()):
                raise UsageError(f"{root} exists and is not an OCI image layout (no oci-layout file)")
            self._blobs.mkdir(parents=True, exist_ok=True)
            if not marker.is_file():
                _write_atomic(marker, canonical_json({"imageLayoutVersion": LAYOUT_VERSION}))
            if not (root / "index.json").is_file():
                _write_atomic(root / "index.json", Index(manifests=()).to_bytes())

    def _check_marker(self, marker: Path) -> None:
        try:
            version = json.loads(marker.read_bytes()).get("imageLayoutVersion")
        except (ValueError, AttributeError) as exc:
            raise UsageError(f"{marker} is not an OCI layout marker (expected a JSON object)") from exc
        if version != LAYOUT_VERSION:
            raise UsageError(
                f"{self.root} is an OCI layout of version {version!r}; goship writes {LAYOUT_VERSION}"
            )

    # --- blobs -----------------------------------------------------------------------------------------

    def blob_path(self, digest: Digest) -> Path:
        if not digest.startswith("sha256:"):
            raise UsageError(f"goship stores sha256 blobs only (not {digest})")
        return self._blobs / parse_digest(digest).removeprefix("sha256:")

    def has_blob(self, digest: Digest) -> bool:
        return self.blob_path(digest).is_file()

    def read_blob(self, digest: Digest) -> bytes:
        """A blob's bytes, checked against its digest."""
        try:
            data = self.blob_path(digest).read_bytes()
        except FileNotFoundError as exc:
            raise UsageError(f"blob {digest} is not in the layout {self.root}") from exc
        if describe(data, "").digest != digest:
            raise CheckFailedError(f"blob {digest} in {self.root} does not match its digest (corrupted)")
        return data

    def put_blob(self, content: bytes | Path | BinaryIO, *, digest: Digest | None = None) -> Digest:
        """Store ``content``; skipped when ``digest`` is given and already stored. The digest of what was
        written is checked against ``digest``, so a wrong descriptor never names a stored blob."""
        if digest is not None and self.has_blob(digest):
            return digest
        if isinstance(content, bytes):
            return self._store([content], digest)
        if isinstance(content, Path):
            with content.open("rb") as f:
                return self._store(iter(lambda: f.read(_CHUNK), b""), digest)
        return self._store(iter(lambda: content.read(_CHUNK), b""), digest)

    def _store(self, chunks: Iterator[bytes] | list[bytes], expected: Digest | None) -> Digest:
        fd, tmp = tempfile.mkstemp(dir=self._blobs, prefix=_TEMP_PREFIX)
        try:
            sha = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    sha.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = Digest("sha256:" + sha.hexdigest())
            if expected is not None and digest != expected:
                raise CheckFailedError(f"blob content has digest {digest}, but {expected} was expected")
            os.chmod(tmp, 0o644)
            final = self.blob_path(digest)
            if final.exists():
                os.unlink(tmp)
            else:
                os.replace(tmp, final)
            return digest
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _put_layer(self, layer: Layer) -> None:
        if layer.content is None and self.has_blob(layer.digest):
            return
        with layer.open() as f:
            self.put_blob(f, digest=layer.digest)

    # --- images ----------------------------------------------------------------------------------------

    def write(self, item: ComposedImage | ComposedIndex, *, ref: str | None = None) -> Descriptor:
        """Store an image (or an index and its images) and name it ``ref`` in index.json, replacing what
        had that name; without ``ref`` it is listed unnamed, so garbage collection keeps it."""
        if ref is not None:
            check_ref_name(ref)
        with self._lock(".goship-gc.lock", fcntl.LOCK_SH):
            images = item.images if isinstance(item, ComposedIndex) else (item,)
            for image in images:
                for layer in image.layers:
                    self._put_layer(layer)
                self.put_blob(image.config_bytes, digest=image.manifest.config.digest)
                self.put_blob(image.manifest_bytes, digest=image.descriptor.digest)
            if isinstance(item, ComposedIndex):
                self.put_blob(item.index_bytes, digest=item.descriptor.digest)
            return self.add_to_index(item.descriptor, ref=ref)

    def add_to_index(self, descriptor: Descriptor, *, ref: str | None = None) -> Descriptor:
        """List ``descriptor`` (of a blob already stored) in index.json, as ``ref`` when given."""
        if not self.has_blob(descriptor.digest):
            raise UsageError(f"blob {descriptor.digest} must be stored before index.json can name it")
        entry = descriptor
        if ref is not None:
            entry = Descriptor(
                descriptor.media_type,
                descriptor.digest,
                descriptor.size,
                annotations={**descriptor.annotations, ANNOTATION_REF_NAME: check_ref_name(ref)},
                platform=descriptor.platform,
                artifact_type=descriptor.artifact_type,
                urls=descriptor.urls,
            )
        with self._lock(".goship-index.lock", fcntl.LOCK_EX):
            entries = list(self.index().manifests)
            if ref is not None:
                entries = [e for e in entries if e.annotations.get(ANNOTATION_REF_NAME) != ref]
            elif any(e.digest == descriptor.digest for e in entries):
                return descriptor
            self._write_index([*entries, entry])
        return entry

    def remove_ref(self, ref: str) -> bool:
        """Drop ``ref`` from index.json (its blobs stay until :meth:`gc`); False when it was not there."""
        with self._lock(".goship-index.lock", fcntl.LOCK_EX):
            entries = list(self.index().manifests)
            kept = [e for e in entries if e.annotations.get(ANNOTATION_REF_NAME) != ref]
            if len(kept) == len(entries):
                return False
            self._write_index(kept)
            return True

    def _write_index(self, entries: list[Descriptor]) -> None:
        # Sorted so that two processes tagging in either order leave the same index.json.
        entries.sort(key=lambda e: (e.annotations.get(ANNOTATION_REF_NAME, ""), e.digest))
        _write_atomic(self.root / "index.json", Index(manifests=tuple(entries)).to_bytes())

    def index(self) -> Index:
        """index.json as it is now."""
        return parse_index((self.root / "index.json").read_bytes())

    def refs(self) -> dict[str, Descriptor]:
        """Every ref name and what it names, sorted by name."""
        named = {
            e.annotations[ANNOTATION_REF_NAME]: e
            for e in self.index().manifests
            if ANNOTATION_REF_NAME in e.annotations
        }
        return dict(sorted(named.items()))

    def resolve(self, ref_or_digest: str) -> Descriptor:
        """The descriptor a ref name names, or of a stored manifest or index given by digest."""
        refs = self.refs()
        if ref_or_digest in refs:
            return refs[ref_or_digest]
        if not re.fullmatch(r"sha256:[a-f0-9]{64}", ref_or_digest):
            known = ", ".join(refs) or "none"
            raise UsageError(f"no ref {ref_or_digest!r} in the layout {self.root} (refs: {known})")
        digest = Digest(ref_or_digest)
        for entry in self.index().manifests:
            if entry.digest == digest:
                return entry
        data = self.read_blob(digest)
        try:
            obj = json.loads(data)
            media_type = obj.get("mediaType") or (
                MEDIA_TYPE_INDEX if "manifests" in obj else MEDIA_TYPE_MANIFEST
            )
        except (ValueError, AttributeError) as exc:
            raise UsageError(f"blob {digest} is not a manifest or an index") from exc
        return describe(data, str(media_type))

    def read(self, ref_or_digest: str) -> StoredImage | StoredIndex:
        """An image, or an index with its images, read back by ref name or digest."""
        descriptor = self.resolve(ref_or_digest)
        if descriptor.media_type in _INDEXES:
            index = parse_index(self.read_blob(descriptor.digest))
            images = tuple(self._read_image(d) for d in index.manifests if d.media_type in _MANIFESTS)
            return StoredIndex(descriptor, index, images)
        return self._read_image(descriptor)

    def _read_image(self, descriptor: Descriptor) -> StoredImage:
        if descriptor.media_type not in _MANIFESTS:
            raise UsageError(f"{descriptor.digest} is a {descriptor.media_type}, not an image manifest")
        manifest = parse_manifest(self.read_blob(descriptor.digest))
        config = None
        if manifest.config.media_type in (MEDIA_TYPE_CONFIG, DOCKER_CONFIG):
            config = parse_config(self.read_blob(manifest.config.digest))
        return StoredImage(descriptor, manifest, config)

    # --- garbage collection ----------------------------------------------------------------------------

    def gc(self) -> tuple[Digest, ...]:
        """Delete blobs nothing in index.json reaches (and temporary files of interrupted writes)."""
        with self._lock(".goship-gc.lock", fcntl.LOCK_EX), self._lock(".goship-index.lock", fcntl.LOCK_EX):
            reachable: set[str] = set()
            pending = list(self.index().manifests)
            while pending:
                d = pending.pop()
                if d.digest in reachable or not self.has_blob(d.digest):
                    continue
                reachable.add(d.digest)
                if d.media_type in _INDEXES:
                    pending.extend(parse_index(self.read_blob(d.digest)).manifests)
                elif d.media_type in _MANIFESTS:
                    manifest = parse_manifest(self.read_blob(d.digest))
                    pending.extend([manifest.config, *manifest.layers])
            removed: list[Digest] = []
            for path in sorted(self._blobs.iterdir()):
                if path.name.startswith(_TEMP_PREFIX):
                    path.unlink()
                elif f"sha256:{path.name}" not in reachable:
                    path.unlink()
                    removed.append(Digest(f"sha256:{path.name}"))
            return tuple(removed)

    @contextmanager
    def _lock(self, name: str, operation: int) -> Iterator[None]:
        # flock, not the file's existence, is the lock: a crashed holder releases it with its process.
        fd = os.open(self.root / name, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, operation)
            yield
        finally:
            os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
