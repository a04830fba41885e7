"""``goship build``: every Go service into a reproducible OCI image in goship's local store."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Annotated

from goship.cli._app import Parameter


def build(
    *,
    service: Annotated[list[str] | None, Parameter(negative=())] = None,
    platform: Annotated[list[str] | None, Parameter(negative=())] = None,
    store: Path | None = None,
    cache: bool = True,
    verify_reproducible: Annotated[bool, Parameter(negative=())] = False,
    insecure: Annotated[bool, Parameter(negative=())] = False,
    dry_run: Annotated[bool, Parameter(negative=())] = False,
    json: Annotated[bool, Parameter(negative=())] = False,
) -> int:
    """Build each service (goship.yaml 'services', else every main package) into an OCI image index
    with an SPDX SBOM per platform, in goship's local store (an OCI image layout). No Docker.

    Parameters
    ----------
    service
        Only this service; repeatable.
    platform
        Build for this platform instead of the configured ones (linux/amd64, linux/arm64, …); repeatable.
    store
        The OCI image layout to write (default: images.store, else ~/.cache/goship/store/<repo>).
    cache
        Reuse unchanged binaries and images (--no-cache builds everything again).
    verify_reproducible
        Build twice in two fresh checkouts of HEAD and fail on any digest difference, naming the input.
    insecure
        Allow plain http for a loopback registry a pulled base comes from.
    dry_run
        Show what would be built, build nothing.
    json
        Print one JSON document: {"store", "images": [{"service", "ref", "digest", "version", "released",
        "commit", "repository", "platforms": [{"platform", "digest", "binary_sha256", "sbom"}], "reused"}]}.

    Example: goship build --platform linux/amd64 --platform linux/arm64
    """
    from goship.cli._images import open_images
    from goship.ui import console

    images = open_images(names=service or [], platforms=platform or [], store=store, insecure=insecure)
    if dry_run:
        plan = [
            {
                "service": s.name,
                "ref": f"{s.name}:{images.identity(s).version}",
                "platforms": [str(p) for p in s.platforms],
                "package": s.package,
                "module": s.module.dir,
            }
            for s in images.services
        ]
        if json:
            console.print_json({"store": str(images.store.root), "dry_run": True, "images": plan})
        else:
            for p in plan:
                console.info(
                    f"would build {p['ref']} from {p['module']}:{p['package']} for {', '.join(p['platforms'])}"
                )
        return 0
    if verify_reproducible:
        from goship.image.reproduce import verify_reproducible as verify

        verify(images.session.repo, images.services, images.identity, images.open_registry)
    with tempfile.TemporaryDirectory(prefix="goship-build-") as work:
        built = []
        for s in images.services:
            identity = images.identity(s)
            binaries = images.start_builds(s, identity, Path(work), cache=cache)
            builder = images.builder(Path(work), cache=cache)  # imported while Go builds
            built.append(builder.build(s, identity, binaries=binaries.result()))
    if json:
        console.print_json(
            {"store": str(images.store.root), "images": [dataclasses.asdict(b) for b in built]}
        )
        return 0
    for b in built:
        how = "unchanged, reused" if b.reused else "built"
        console.info(f"{how} {b.ref} {b.digest} ({', '.join(p.platform for p in b.platforms)})")
    console.info(f"store: {images.store.root}")
    return 0
