"""``goship build --verify-reproducible``: build every service twice, each time in a fresh checkout of
HEAD with an empty store and no cache, and name the first input whose digest differs."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from goship.errors import CheckFailedError
from goship.image.build import BuiltImage, build_at
from goship.image.layout import Layout, StoredImage
from goship.image.pull import RegistryFactory
from goship.image.services import Service
from goship.versioning.plan import BuildIdentity, Repository


def verify_reproducible(
    repo: Repository,
    services: Sequence[Service],
    identity: Callable[[Service], BuildIdentity],
    open_registry: RegistryFactory,
) -> list[BuiltImage]:
    """The images of the first build, when the second is byte for byte the same."""
    with tempfile.TemporaryDirectory(prefix="goship-repro-") as scratch:
        runs: list[tuple[Layout, list[BuiltImage]]] = []
        for n in (1, 2):
            root = Path(scratch) / f"build-{n}"
            store = Layout(root / "store")
            built = build_at(
                repo.git,
                repo.head,
                services,
                identity,
                store=store,
                work_dir=root,
                cache=None,
                open_registry=open_registry,
            )
            runs.append((store, built))
        (store_a, first), (store_b, second) = runs
        for a, b in zip(first, second, strict=True):
            if a.digest != b.digest:
                raise CheckFailedError(
                    f"{a.service} is not reproducible: {_first_difference(a, b, store_a, store_b)}",
                    hint="builds must not depend on the checkout's path, the clock or the environment; "
                    "cgo, -buildvcs and files generated at build time are the usual causes",
                )
        return first


def _first_difference(a: BuiltImage, b: BuiltImage, store_a: Layout, store_b: Layout) -> str:
    for pa, pb in zip(a.platforms, b.platforms, strict=True):
        if pa.binary_sha256 != pb.binary_sha256:
            return f"the Go binary for {pa.platform} differs (sha256 {pa.binary_sha256[:16]}… vs {pb.binary_sha256[:16]}…)"
        if pa.digest != pb.digest:
            ia, ib = store_a.read(pa.digest), store_b.read(pb.digest)
            assert isinstance(ia, StoredImage) and isinstance(ib, StoredImage)
            return f"{pa.platform}: {_image_difference(ia, ib)}"
    return f"the image index differs ({a.digest} vs {b.digest}): its annotations or platform list"


def _image_difference(a: StoredImage, b: StoredImage) -> str:
    if a.manifest.config.digest != b.manifest.config.digest:
        return f"the image config differs ({a.manifest.config.digest} vs {b.manifest.config.digest})"
    layers_a: Sequence[str] = [d.digest for d in a.layers]
    layers_b: Sequence[str] = [d.digest for d in b.layers]
    for i, (la, lb) in enumerate(zip(layers_a, layers_b, strict=False)):
        if la != lb:
            history = a.config.history if a.config else ()
            what = history[i].created_by if i < len(history) and history[i].created_by else f"layer {i + 1}"
            return f"{what} differs ({la} vs {lb})"
    return "the image manifest differs (its annotations)"
