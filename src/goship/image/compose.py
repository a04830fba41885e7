"""An image composed from a base and a Go binary, without Docker: the binary in its own layer, optional
static data in another, the image configuration (OCI image spec config.md) and the manifest (manifest.md)
with the pre-defined annotations (annotations.md); and an index (image-index.md) over several platforms.

Nothing here reads the clock or the environment: ``created`` (SOURCE_DATE_EPOCH) stamps the layers, the
config and its history, so the same binary, base and settings always give the same manifest digest.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from goship.errors import CheckFailedError, UsageError
from goship.image.base import Base
from goship.image.layers import Layer, LayerBuilder
from goship.image.oci import (
    ANNOTATION_CREATED,
    ANNOTATION_REVISION,
    ANNOTATION_SOURCE,
    ANNOTATION_TITLE,
    ANNOTATION_VERSION,
    ContainerConfig,
    Descriptor,
    History,
    ImageConfig,
    Index,
    Manifest,
    Platform,
    rfc3339,
)

__all__ = [
    "APP_DIR",
    "STATIC_DIR",
    "STATIC_DIR_ENV",
    "ComposedImage",
    "ComposedIndex",
    "compose_image",
    "compose_index",
    "image_annotations",
]

APP_DIR = "/app"
"""The binary goes to ``/app/<name>``, root-owned and 0755 so the service cannot rewrite itself."""
STATIC_DIR = "/app/static"
"""Where the static data directory goes, when there is one."""
STATIC_DIR_ENV = "GOSHIP_STATIC_DIR"
"""Set to :data:`STATIC_DIR` when the image has static data, so the service need not hard-code it."""

# GOARCH -> ELF e_machine, to catch a binary built for another architecture before it ships.
_ELF_MACHINES = {
    "386": 3,
    "amd64": 62,
    "arm": 40,
    "arm64": 183,
    "loong64": 258,
    "mips": 8,
    "mipsle": 8,
    "mips64": 8,
    "mips64le": 8,
    "ppc64": 21,
    "ppc64le": 21,
    "riscv64": 243,
    "s390x": 22,
}
_PT_INTERP = 3


@dataclass(frozen=True)
class ComposedImage:
    """One platform's image, ready to be written to a layout or pushed."""

    manifest: Manifest
    """The image manifest."""
    manifest_bytes: bytes
    """Its canonical JSON: the bytes that are stored and whose digest names the image."""
    descriptor: Descriptor
    """Descriptor of :attr:`manifest_bytes`, with the platform."""
    config: ImageConfig
    """The image configuration."""
    config_bytes: bytes
    """Its canonical JSON, whose descriptor is the manifest's config."""
    layers: tuple[Layer, ...]
    """Every layer, the base's first; base layers may be held only by a registry."""

    @property
    def platform(self) -> Platform:
        return self.config.platform


@dataclass(frozen=True)
class ComposedIndex:
    """Images of several platforms behind one index."""

    index: Index
    """The image index, one entry per platform."""
    index_bytes: bytes
    """Its canonical JSON."""
    descriptor: Descriptor
    """Descriptor of :attr:`index_bytes`."""
    images: tuple[ComposedImage, ...]
    """The images, in index order."""


def image_annotations(
    *,
    created: int,
    version: str | None = None,
    revision: str | None = None,
    source: str | None = None,
    title: str | None = None,
) -> dict[str, str]:
    """The ``org.opencontainers.image.*`` annotations goship sets, leaving out those not known."""
    values = {
        ANNOTATION_CREATED: rfc3339(created),
        ANNOTATION_VERSION: version,
        ANNOTATION_REVISION: revision,
        ANNOTATION_SOURCE: source,
        ANNOTATION_TITLE: title,
    }
    return {k: v for k, v in values.items() if v is not None}


def compose_image(
    base: Base,
    binary: Path,
    *,
    platform: Platform,
    created: int,
    entrypoint: Sequence[str] | None = None,
    cmd: Sequence[str] = (),
    user: str | None = None,
    env: Mapping[str, str] | None = None,
    workdir: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    exposed_ports: Sequence[str] = (),
    static_dir: Path | None = None,
    app_name: str | None = None,
    layer_dir: Path | None = None,
) -> ComposedImage:
    """``binary`` on ``base`` for ``platform``.

    Unless given, the entrypoint is the binary, and User and WorkingDir are the base's; ``env`` and
    ``labels`` are laid over the base's. ``created`` (seconds since 1970) stamps layers, config and
    history. Layers are kept in memory, or written under ``layer_dir`` when given.
    """
    name = app_name or binary.name
    if not name or "/" in name or name in (".", ".."):
        raise UsageError(f"expected a file name for the binary in {APP_DIR} (not {name!r})")
    if static_dir is not None and f"{APP_DIR}/{name}" == STATIC_DIR:
        raise UsageError(
            f"the binary {name!r} would take the place of the static data at {STATIC_DIR}",
            hint="pass another app_name",
        )
    if base.platform is not None and (base.platform.os, base.platform.architecture) != (
        platform.os,
        platform.architecture,
    ):
        raise UsageError(f"the base is for {base.platform}, not {platform}")
    if workdir is not None and not workdir.startswith("/"):
        raise UsageError(f"expected an absolute working directory (not {workdir!r})")
    _check_binary(binary, platform, static=not base.has_libc)
    app_path = f"{APP_DIR}/{name}"
    stamp = rfc3339(created)

    app_layer = LayerBuilder(mtime=created).add_file(app_path, binary, mode=0o755).build(into=layer_dir)
    layers = [*base.layers, app_layer]
    history = [*base.history, History(created=stamp, created_by=f"goship: {app_path}")]
    extra_env: dict[str, str] = {}
    if static_dir is not None:
        builder = LayerBuilder(mtime=created).add_tree(static_dir, STATIC_DIR)
        layers.append(builder.build(into=layer_dir))
        history.append(History(created=stamp, created_by=f"goship: {STATIC_DIR}", comment="static data"))
        extra_env[STATIC_DIR_ENV] = STATIC_DIR

    inherited = base.defaults
    container = ContainerConfig(
        user=user if user is not None else inherited.user,
        env=_merge_env(inherited.env, {**extra_env, **(env or {})}),
        entrypoint=tuple(entrypoint) if entrypoint is not None else (app_path,),
        cmd=tuple(cmd),
        working_dir=workdir if workdir is not None else inherited.working_dir,
        labels={**inherited.labels, **(labels or {})},
        exposed_ports=tuple(sorted({*inherited.exposed_ports, *exposed_ports})),
        volumes=inherited.volumes,
        stop_signal=inherited.stop_signal,
    )
    config = ImageConfig(
        architecture=platform.architecture,
        os=platform.os,
        variant=platform.variant,
        created=stamp,
        config=container,
        diff_ids=tuple(layer.diff_id for layer in layers),
        history=tuple(history),
    )
    manifest = Manifest(
        config=config.descriptor(),
        layers=tuple(layer.descriptor() for layer in layers),
        annotations={**base.annotations, **(annotations or {})},
    )
    return ComposedImage(
        manifest=manifest,
        manifest_bytes=manifest.to_bytes(),
        descriptor=manifest.descriptor(platform=platform),
        config=config,
        config_bytes=config.to_bytes(),
        layers=tuple(layers),
    )


def compose_index(
    images: Sequence[ComposedImage], *, annotations: Mapping[str, str] | None = None
) -> ComposedIndex:
    """One index over ``images``, sorted by platform so the input order does not change the digest."""
    if not images:
        raise UsageError("an index needs at least one image")
    ordered = sorted(images, key=lambda image: image.platform.sort_key)
    platforms = [image.platform for image in ordered]
    doubles = sorted({str(p) for p in platforms if platforms.count(p) > 1})
    if doubles:
        raise UsageError(f"an index holds one image per platform; {', '.join(doubles)} came more than once")
    index = Index(manifests=tuple(image.descriptor for image in ordered), annotations=dict(annotations or {}))
    data = index.to_bytes()
    return ComposedIndex(index=index, index_bytes=data, descriptor=index.descriptor(), images=tuple(ordered))


def _merge_env(inherited: Sequence[str], overrides: Mapping[str, str]) -> tuple[str, ...]:
    for key in overrides:
        if not key or "=" in key:
            raise UsageError(f"expected an environment variable name (not {key!r})")
    merged: list[str] = []
    for entry in inherited:
        key = entry.split("=", 1)[0]
        merged.append(f"{key}={overrides[key]}" if key in overrides else entry)
    known = {entry.split("=", 1)[0] for entry in inherited}
    # New names sorted: a mapping's order is easy to change by accident and would change the digest.
    merged.extend(f"{key}={overrides[key]}" for key in sorted(overrides) if key not in known)
    return tuple(merged)


def _check_binary(binary: Path, platform: Platform, *, static: bool) -> None:
    """Refuse a binary the image could not run: another architecture, or dynamically linked on a base
    without a C library (it would fail at start with a puzzling 'no such file or directory')."""
    if platform.os != "linux":
        return
    try:
        with binary.open("rb") as f:
            elf = _read_elf(f)
    except OSError as exc:
        raise UsageError(f"cannot read the binary {binary}: {exc.strerror}") from exc
    if elf is None:
        raise CheckFailedError(f"{binary} is not a Linux executable (ELF) for {platform}")
    machine, dynamic = elf
    expected = _ELF_MACHINES.get(platform.architecture)
    if expected is not None and machine != expected:
        raise CheckFailedError(
            f"{binary} is built for another architecture than {platform} (ELF machine {machine})",
            hint=f"build it with GOARCH={platform.architecture}",
        )
    if static and dynamic:
        raise CheckFailedError(
            f"{binary} is dynamically linked, and the base has no C library to load it",
            hint="build it with CGO_ENABLED=0, or use a base with a C library",
        )


def _read_elf(f: BinaryIO) -> tuple[int, bool] | None:
    """(e_machine, has a program interpreter) of an ELF file, or None when it is not one."""
    head = f.read(64)
    if head[:4] != b"\x7fELF" or len(head) < 52:
        return None
    is64, order = head[4] == 2, "<" if head[5] == 1 else ">"
    (machine,) = struct.unpack_from(order + "H", head, 18)
    (phoff,) = struct.unpack_from(order + ("Q" if is64 else "I"), head, 32 if is64 else 28)
    phentsize, phnum = struct.unpack_from(order + "HH", head, 54 if is64 else 42)
    f.seek(phoff)
    table = f.read(phentsize * phnum)
    types = (
        struct.unpack_from(order + "I", table, i * phentsize)[0]
        for i in range(len(table) // max(phentsize, 1))
    )
    return machine, _PT_INTERP in types
