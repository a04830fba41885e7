"""What a rehearsal compares: a git revision built into goship's store (in a scratch checkout), or an
image already there, unpacked for this machine's platform."""

from __future__ import annotations

import dataclasses
import platform as host
import tempfile
from pathlib import Path

from goship.errors import UsageError
from goship.image.build import build_at
from goship.image.gobuild import BuildCache
from goship.image.layout import Layout
from goship.image.oci import Platform
from goship.image.pull import RegistryFactory
from goship.image.services import Service
from goship.local.rehearsal import Side
from goship.local.rootfs import unpack
from goship.versioning.plan import Repository, build_identity

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def host_platform() -> Platform:
    """The platform replicas run on here (linux/amd64 or linux/arm64)."""
    arch = _ARCH.get(host.machine().lower())
    if host.system() != "Linux" or arch is None:
        raise UsageError(
            f"the local runtime runs Linux binaries on Linux (this is {host.system()}/{host.machine()})",
            hint="rehearse on a Linux machine or in a Linux VM/CI runner",
        )
    return Platform("linux", arch)


def resolve_side(
    what: str,
    *,
    repo: Repository,
    service: Service,
    store: Layout,
    go_cache: bool,
    open_registry: RegistryFactory,
    unpack_dir: Path,
) -> Side:
    """``what`` is a git revision (built now, in a scratch checkout) or an image in the store
    (``orders:v1.3.0`` or a digest)."""
    target = host_platform()
    commit = repo.git.rev_parse(what)
    if commit is not None:
        identity = build_identity(repo, service.module, commit=commit)
        with tempfile.TemporaryDirectory(prefix="goship-rehearse-") as scratch:
            [built] = build_at(
                repo.git,
                commit,
                [dataclasses.replace(service, platforms=(target,))],
                lambda _: identity,
                store=store,
                work_dir=Path(scratch),
                cache=BuildCache.default() if go_cache else None,
                open_registry=open_registry,
            )
        ref, version = built.ref, built.version
    else:
        try:
            descriptor = store.resolve(what)
        except UsageError as exc:
            raise UsageError(
                f"{what!r} is neither a git revision nor an image in goship's store ({store.root})",
                hint="give a tag, branch or commit (e.g. v1.3.0, HEAD) or a store ref such as orders:v1.3.0",
            ) from exc
        ref = descriptor.digest
        version = what.split(":", 1)[1] if ":" in what and not what.startswith("sha256:") else what[:19]
    return Side(version=version, rootfs=unpack(store, ref, target, unpack_dir))
