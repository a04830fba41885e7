"""``goship build``: each service → Go binaries per platform → an OCI image index with an SPDX SBOM per
platform, in goship's local store. Same commit, same bytes: an unchanged service is neither rebuilt
nor re-layered."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from goship import __version__
from goship.git import Git
from goship.gotool import Go
from goship.image import sbom
from goship.image.base import SCRATCH, Base, static_base
from goship.image.compose import ComposedImage, compose_image, compose_index, image_annotations
from goship.image.gobuild import BuildCache, BuiltBinary, build_all
from goship.image.layout import Layout
from goship.image.oci import ARTIFACT_TYPE_SPDX, EMPTY_JSON, Platform, artifact_manifest, describe
from goship.image.pull import RegistryFactory, pull_base
from goship.image.services import Service, build_requests
from goship.versioning.plan import BuildIdentity

RECORDS = "goship-records"


@dataclass(frozen=True)
class PlatformImage:
    """One platform's image of a build."""

    platform: str
    digest: str
    """The image manifest."""
    binary_sha256: str
    sbom: str | None
    """The SBOM artifact manifest whose subject is this image."""


@dataclass(frozen=True)
class BuiltImage:
    """A service's image in the local store."""

    service: str
    ref: str
    """Its name in the store (``orders:v1.3.0``)."""
    digest: str
    """The image index."""
    version: str
    released: bool
    commit: str
    repository: str | None
    platforms: tuple[PlatformImage, ...]
    inputs: str
    """A digest of everything that decides the image: same inputs, same image."""
    reused: bool = False
    """Found in the store unchanged: not rebuilt, not re-layered."""


class ImageBuilder:
    """Builds services into one store, sharing one Go build cache."""

    def __init__(
        self,
        *,
        top: Path,
        go: Go,
        store: Layout,
        work_dir: Path,
        cache: BuildCache | None,
        source_url: str | None = None,
        open_registry: RegistryFactory | None = None,
    ) -> None:
        self.top = top
        self.go = go
        self.store = store
        self.work_dir = work_dir
        self.cache = cache
        self.source_url = source_url
        self.open_registry = open_registry

    def build(
        self, service: Service, identity: BuildIdentity, *, binaries: Sequence[BuiltBinary] | None = None
    ) -> BuiltImage:
        """The service's image at ``identity``; ``binaries``: its Go builds, when the caller started them
        itself (:func:`goship.image.gobuild.start_all`) so as to do other work meanwhile."""
        if binaries is None:
            binaries = build_all(
                self.go,
                build_requests(service, self.top, identity),
                self.work_dir / service.name,
                cache=self.cache,
            )
        bases = {str(p): self._base(service, p) for p in service.platforms}
        inputs = _inputs_digest(service, identity, binaries, bases)
        ref = f"{service.name}:{identity.version}"
        known = self._record(service.name, identity.version)
        if known is not None and known.inputs == inputs and self.store.has_blob(known.digest):  # type: ignore[arg-type]
            self.store.add_to_index(self.store.resolve(known.digest), ref=ref)
            # Where it is published is not an input of the image: take today's, not the record's.
            return dataclasses.replace(known, repository=service.repository, reused=True)
        images = [self._compose(service, identity, b, bases[str(b.platform)]) for b in binaries]
        index = compose_index(images, annotations=self._annotations(service, identity))
        self.store.write(index, ref=ref)
        platforms = tuple(
            PlatformImage(
                platform=str(image.descriptor.platform),
                digest=image.descriptor.digest,
                binary_sha256=binary.sha256,
                sbom=self._sbom(service, identity, image, binary),
            )
            for image, binary in zip(
                index.images, sorted(binaries, key=lambda b: b.platform.sort_key), strict=True
            )
        )
        built = BuiltImage(
            service=service.name,
            ref=ref,
            digest=index.descriptor.digest,
            version=identity.version,
            released=identity.released,
            commit=identity.commit,
            repository=service.repository,
            platforms=platforms,
            inputs=inputs,
        )
        self._save_record(built)
        return built

    # -- pieces ----------------------------------------------------------------------------------

    def _base(self, service: Service, platform: Platform) -> Base:
        kind = service.settings.base
        if kind == "scratch":
            return SCRATCH
        if kind == "static":
            return static_base()
        if self.open_registry is None:
            raise RuntimeError("a pulled base needs a registry factory")
        return pull_base(kind, platform, self.store, self.open_registry)

    def _annotations(self, service: Service, identity: BuildIdentity) -> dict[str, str]:
        return image_annotations(
            created=identity.time,
            version=identity.version,
            revision=identity.commit,
            source=self.source_url,
            title=service.name,
        )

    def _compose(
        self, service: Service, identity: BuildIdentity, binary: BuiltBinary, base: Base
    ) -> ComposedImage:
        settings = service.settings
        static_dir = service.module_dir(self.top) / settings.static_dir if settings.static_dir else None
        return compose_image(
            base,
            binary.path,
            platform=binary.platform,
            created=identity.time,
            entrypoint=[f"/app/{service.name}"],
            user=settings.user,
            env=settings.env,
            workdir=settings.workdir,
            annotations=self._annotations(service, identity),
            exposed_ports=[f"{p}/tcp" for p in settings.ports],
            static_dir=static_dir,
            app_name=service.name,
        )

    def _sbom(
        self, service: Service, identity: BuildIdentity, image: ComposedImage, binary: BuiltBinary
    ) -> str:
        info = sbom.read_build_info(self.go, binary.path)
        document = sbom.spdx_document(
            info,
            name=service.name,
            namespace_seed=image.descriptor.digest,
            created=datetime.fromtimestamp(identity.time, tz=UTC),
            main_version=identity.version,
            binary_sha256=binary.sha256,
        )
        data = sbom.serialize(document)
        blob = describe(data, sbom.MEDIA_TYPE)
        self.store.put_blob(data, digest=blob.digest)
        subject = describe(image.manifest_bytes, image.descriptor.media_type)
        manifest = artifact_manifest(
            ARTIFACT_TYPE_SPDX,
            [blob],
            subject=subject,
            annotations={
                "org.opencontainers.image.created": image.manifest.annotations.get(
                    "org.opencontainers.image.created", ""
                )
            },
        )
        self.store.put_blob(EMPTY_JSON, digest=manifest.config.digest)  # the artifact's empty config
        body = manifest.to_bytes()
        descriptor = manifest.descriptor()
        self.store.put_blob(body, digest=descriptor.digest)
        self.store.add_to_index(descriptor)
        return descriptor.digest

    def _record_path(self, service: str, version: str) -> Path:
        return self.store.root / RECORDS / service / f"{version}.json"

    def _record(self, service: str, version: str) -> BuiltImage | None:
        path = self._record_path(service, version)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data["platforms"] = tuple(PlatformImage(**p) for p in data["platforms"])
            return BuiltImage(**data)
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def _save_record(self, built: BuiltImage) -> None:
        path = self._record_path(built.service, built.version)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(built), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)

    def record(self, service: str, version: str) -> BuiltImage | None:
        """The last build of ``service`` at ``version`` in this store, if any."""
        return self._record(service, version)


def build_at(
    git: Git,
    commit: str,
    services: Sequence[Service],
    identity: Callable[[Service], BuildIdentity],
    *,
    store: Layout,
    work_dir: Path,
    cache: BuildCache | None,
    open_registry: RegistryFactory | None,
) -> list[BuiltImage]:
    """Build ``services`` as ``commit`` has them, in a scratch checkout under ``work_dir`` (a git worktree,
    removed afterwards), into ``store``: what a rehearsal of an old release and a reproducibility check
    both need."""
    checkout = work_dir / "src"
    git.worktree_add(checkout, commit)
    try:
        builder = ImageBuilder(
            top=checkout,
            go=Go(checkout),
            store=store,
            work_dir=work_dir / "work",
            cache=cache,
            open_registry=open_registry,
        )
        return [builder.build(s, identity(s)) for s in services]
    finally:
        git.worktree_remove(checkout)


def _inputs_digest(
    service: Service, identity: BuildIdentity, binaries: Sequence[BuiltBinary], bases: dict[str, Base]
) -> str:
    """Everything that decides the image besides the code of goship itself (whose version is included)."""
    doc = {
        "goship": __version__,
        "settings": asdict(service.settings),
        "identity": asdict(identity),
        "binaries": sorted((str(b.platform), b.sha256) for b in binaries),
        "bases": sorted((p, [layer.digest for layer in base.layers]) for p, base in bases.items()),
    }
    return "sha256:" + hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
