"""The bases an image is composed on: ``scratch`` (nothing), goship's own minimal static base (built here,
nothing pulled), or a base pulled from a registry. Each offers what composition needs: layers, the
container settings and history to inherit, annotations (OCI annotations.md ``base.name``/``base.digest``)
and the platform it is for.

The static base is what a static Go binary needs and no more: ``/etc/passwd`` and ``/etc/group`` with root
and ``nonroot`` (65532, as distroless does), ``/etc/nsswitch.conf`` so Go's resolver reads ``/etc/hosts``
before DNS, the build machine's CA bundle at the path Go looks first, ``/tmp`` (1777) and the home
directories. It has no binaries, so one layer serves every platform.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from goship.errors import EnvironmentFailure, UsageError
from goship.image.layers import Layer, LayerBuilder
from goship.image.oci import (
    ANNOTATION_BASE_DIGEST,
    ANNOTATION_BASE_NAME,
    ContainerConfig,
    Descriptor,
    Digest,
    History,
    ImageConfig,
    Manifest,
    Platform,
    oci_layer_media_type,
    rfc3339,
    sha256_digest,
)

__all__ = [
    "CA_BUNDLE_CANDIDATES",
    "CA_BUNDLE_PATH",
    "NONROOT",
    "SCRATCH",
    "Base",
    "PulledBase",
    "Scratch",
    "StaticBase",
    "static_base",
]

NONROOT = 65532
"""uid and gid of ``nonroot``, the distroless convention Kubernetes policies often expect."""

CA_BUNDLE_PATH = "/etc/ssl/certs/ca-certificates.crt"
"""Where the static base puts the CA bundle: the first path Go's crypto/x509 tries on Linux."""

CA_BUNDLE_CANDIDATES = (
    Path("/etc/ssl/certs/ca-certificates.crt"),  # Debian, Ubuntu, Gentoo, Arch
    Path("/etc/pki/tls/certs/ca-bundle.crt"),  # Fedora, RHEL 6
    Path("/etc/ssl/ca-bundle.pem"),  # openSUSE
    Path("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"),  # CentOS, RHEL 7+
    Path("/etc/ssl/cert.pem"),  # Alpine, macOS
)
"""Where build machines keep their CA bundle, in the order Go's crypto/x509 looks for one."""

_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    f"nonroot:x:{NONROOT}:{NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n"
)
_GROUP = f"root:x:0:\nnonroot:x:{NONROOT}:\n"
# Without this file Go's resolver follows glibc's default order, which asks DNS before /etc/hosts.
_NSSWITCH = "hosts: files dns\n"


class Base(Protocol):
    """What :func:`goship.image.compose.compose_image` needs from a base."""

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The base's layers, bottom first."""
        ...

    @property
    def defaults(self) -> ContainerConfig:
        """Settings the image inherits unless told otherwise: Env, User, WorkingDir, Labels, ports."""
        ...

    @property
    def history(self) -> tuple[History, ...]:
        """The base's history, which the image's continues."""
        ...

    @property
    def annotations(self) -> Mapping[str, str]:
        """Manifest annotations that name the base."""
        ...

    @property
    def platform(self) -> Platform | None:
        """The one platform the base is for; None when it suits any."""
        ...

    @property
    def has_libc(self) -> bool:
        """Whether a dynamically linked binary can run on it."""
        ...


@dataclass(frozen=True)
class Scratch:
    """The empty base: the image holds only what goship adds."""

    layers: tuple[Layer, ...] = ()
    """Always empty."""
    defaults: ContainerConfig = field(default_factory=ContainerConfig)
    """Nothing to inherit."""
    history: tuple[History, ...] = ()
    """Nothing to continue."""
    annotations: Mapping[str, str] = field(default_factory=dict)
    """Nothing to name."""
    platform: Platform | None = None
    """Suits any platform."""
    has_libc: bool = False
    """Only static binaries run on nothing."""


SCRATCH = Scratch()


@dataclass(frozen=True)
class StaticBase:
    """goship's static base: one layer built on this machine, for static binaries on any platform."""

    layer: Layer
    """The one layer: accounts, nsswitch.conf, CA bundle, /tmp, home directories."""
    ca_bundle_source: Path
    """The file on the build machine the CA bundle came from."""
    ca_bundle_digest: Digest
    """Digest of the CA bundle's content, so a changed base layer can be explained by a changed bundle."""
    created: str
    """RFC 3339 time stamped on the layer's entries and history."""
    defaults: ContainerConfig = field(
        default_factory=lambda: ContainerConfig(
            user=f"{NONROOT}:{NONROOT}",
            env=(_PATH, f"SSL_CERT_FILE={CA_BUNDLE_PATH}"),
            working_dir="/home/nonroot",
        )
    )
    """Run as nonroot in its home, with a PATH and the CA bundle's location."""
    platform: Platform | None = None
    """No binaries inside, so it suits any platform."""
    has_libc: bool = False
    """There is no C library: binaries must be static (CGO_ENABLED=0)."""

    @property
    def layers(self) -> tuple[Layer, ...]:
        return (self.layer,)

    @property
    def history(self) -> tuple[History, ...]:
        return (
            History(
                created=self.created,
                created_by="goship static base",
                comment=f"accounts root and nonroot, nsswitch.conf, /tmp; CA bundle {self.ca_bundle_digest}",
            ),
        )

    @property
    def annotations(self) -> Mapping[str, str]:
        # Nothing was pulled, so there is no base reference to name.
        return {}


def static_base(
    *, mtime: int = 0, ca_bundle: Path | None = None, ca_candidates: Sequence[Path] = CA_BUNDLE_CANDIDATES
) -> StaticBase:
    """goship's static base, with the CA bundle ``ca_bundle`` or the first of ``ca_candidates`` that
    exists. ``mtime`` defaults to 0 so the layer stays the same from release to release (only a new CA
    bundle changes it), and registries store it once."""
    source = ca_bundle or next((p for p in ca_candidates if p.is_file()), None)
    if source is None:
        raise EnvironmentFailure(
            "no CA certificate bundle on this machine (looked in "
            + ", ".join(str(p) for p in ca_candidates)
            + ")",
            hint="install the ca-certificates package, or pass the bundle to use",
        )
    try:
        bundle = source.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the CA bundle {source}: {exc.strerror}") from exc
    builder = LayerBuilder(mtime=mtime)
    builder.add_file("/etc/passwd", _PASSWD.encode())
    builder.add_file("/etc/group", _GROUP.encode())
    builder.add_file("/etc/nsswitch.conf", _NSSWITCH.encode())
    builder.add_file(CA_BUNDLE_PATH, bundle)
    builder.add_directory("/tmp", mode=0o1777)
    builder.add_directory("/root", mode=0o700)
    builder.add_directory("/home/nonroot", mode=0o700, uid=NONROOT, gid=NONROOT)
    return StaticBase(
        layer=builder.build(),
        ca_bundle_source=source,
        ca_bundle_digest=sha256_digest(bundle),
        created=rfc3339(mtime),
    )


@dataclass(frozen=True)
class PulledBase:
    """A base image pulled from a registry: the manifest and config for one platform."""

    repository: str
    """Where it came from, e.g. ``cgr.dev/chainguard/static``."""
    digest: Digest
    """Digest of what the reference resolved to (the index, or the manifest when there is no index)."""
    manifest: Manifest
    """The platform's image manifest."""
    config: ImageConfig
    """The platform's image configuration."""
    tag: str | None = None
    """The tag that was asked for, if any; it goes into ``base.name``."""
    layer_blobs: Mapping[Digest, Path] = field(default_factory=dict)
    """Local copies of layer blobs, by digest; layers without one are left to the registry."""
    has_libc: bool = True
    """Assume a pulled base can run dynamic binaries unless told it cannot."""

    def __post_init__(self) -> None:
        if len(self.manifest.layers) != len(self.config.diff_ids):
            raise UsageError(
                f"base {self.repository}@{self.digest} lists {len(self.manifest.layers)} layers "
                f"but its config has {len(self.config.diff_ids)} diff IDs"
            )

    @property
    def layers(self) -> tuple[Layer, ...]:
        return tuple(
            _pulled_layer(d, diff_id, self.layer_blobs.get(d.digest))
            for d, diff_id in zip(self.manifest.layers, self.config.diff_ids, strict=True)
        )

    @property
    def defaults(self) -> ContainerConfig:
        return self.config.config

    @property
    def history(self) -> tuple[History, ...]:
        return self.config.history

    @property
    def annotations(self) -> Mapping[str, str]:
        name = f"{self.repository}:{self.tag}" if self.tag else self.repository
        return {ANNOTATION_BASE_NAME: name, ANNOTATION_BASE_DIGEST: self.digest}

    @property
    def platform(self) -> Platform | None:
        return self.config.platform


def _pulled_layer(descriptor: Descriptor, diff_id: Digest, blob: Path | None) -> Layer:
    # Docker's layer media types name the same bytes, so the OCI name keeps the digest valid.
    return Layer(
        digest=descriptor.digest,
        size=descriptor.size,
        diff_id=diff_id,
        media_type=oci_layer_media_type(descriptor.media_type),
        content=blob,
    )
