"""An image from goship's OCI layout unpacked into a directory, so the local runtime can run its entrypoint
as a process on this machine (no container: no chroot, no namespaces).

Layers are applied base first with the OCI image spec's changeset semantics (layer.md): ``.wh.<name>``
deletes ``<name>`` from the layers below, ``.wh..wh..opq`` hides everything the layers below put in its
directory (whiteouts are expected before their siblings, as the spec asks). Nothing is written outside the
root: a leading ``/`` is dropped, a ``..`` that would climb out refuses the layer, every path is resolved
with the root as ``/`` (a symlink to ``/etc`` leads to ``<root>/etc``), and symlinks are rewritten as
relative links that stay inside the root, because the process sees the host's ``/``, not the image's.
Device nodes and FIFOs are skipped; ownership is not applied (goship runs unprivileged); set-id bits
are dropped and the owner keeps read/write on everything, so the cache can always be removed.

An image is unpacked once per manifest digest into ``<cache>/<hex>/rootfs``: into a temporary directory
renamed into place when complete, under a lock file, so concurrent callers (threads or processes) wait
for one unpack and never see half of one. Each layer's digest and diff ID are checked as it is read.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from goship.errors import CheckFailedError, EnvironmentFailure, UsageError
from goship.image.layout import Layout, StoredImage, StoredIndex
from goship.image.oci import (
    MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_LAYER_TAR,
    Descriptor,
    Digest,
    ImageConfig,
    Platform,
    oci_layer_media_type,
)

__all__ = ["Rootfs", "unpack"]

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_TEMP_PREFIX = ".tmp-"
_MAX_SYMLINK_HOPS = 40  # Linux's MAXSYMLINKS
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Rootfs:
    """An unpacked image and how to start it."""

    path: Path
    """The root directory: what the image's ``/`` is."""
    config: ImageConfig
    """The image configuration."""
    manifest_digest: Digest
    """Digest of the platform's image manifest (the cache key)."""
    argv: tuple[str, ...]
    """Entrypoint then Cmd, the program resolved to its file inside :attr:`path`."""
    env: tuple[str, ...]
    """The image's ``Env``, ``NAME=value`` entries in order."""
    working_dir: Path
    """The image's ``WorkingDir`` inside :attr:`path` (the root when it has none)."""


def unpack(layout: Layout, ref_or_digest: str, platform: Platform, cache_dir: Path) -> Rootfs:
    """The image ``ref_or_digest`` names in ``layout`` (an index's image for ``platform``, or a single
    image built for it), unpacked under ``cache_dir`` unless it already is."""
    image = _image_for(layout.read(ref_or_digest), platform, ref_or_digest)
    assert image.config is not None
    digest = image.descriptor.digest
    hex_ = digest.removeprefix("sha256:")
    final = cache_dir / hex_
    if not (final / "rootfs").is_dir():
        cache_dir.mkdir(parents=True, exist_ok=True)
        with _locked(cache_dir / f".{hex_}.lock"):
            if not (final / "rootfs").is_dir():
                _unpack_into(layout, image, image.config, cache_dir, final)
    return _describe(final / "rootfs", image.config, digest)


def _image_for(item: StoredImage | StoredIndex, platform: Platform, ref: str) -> StoredImage:
    if isinstance(item, StoredIndex):
        image = item.image_for(platform)
    else:
        image = item
        if image.config is not None:
            built_for = image.config.platform
            if (built_for.os, built_for.architecture) != (platform.os, platform.architecture) or (
                platform.variant is not None and built_for.variant != platform.variant
            ):
                raise UsageError(f"{ref} is an image for {built_for}, not {platform}")
    if image.config is None:
        raise UsageError(f"{ref} is an artifact ({image.manifest.artifact_type}), not an image to run")
    return image


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    # flock, so that a crashed unpacker releases the lock with its process.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _unpack_into(
    layout: Layout, image: StoredImage, config: ImageConfig, cache_dir: Path, final: Path
) -> None:
    # Leftovers of an unpack that crashed; the lock says nobody is writing them now.
    for stale in cache_dir.glob(f"{_TEMP_PREFIX}{final.name}-*"):
        _remove(stale)
    if final.exists():  # a directory of that name without a rootfs is no unpack of ours: start afresh
        _remove(final)
    tmp = Path(tempfile.mkdtemp(dir=cache_dir, prefix=f"{_TEMP_PREFIX}{final.name}-"))
    try:
        root = tmp / "rootfs"
        root.mkdir(mode=0o755)
        if len(image.layers) != len(config.diff_ids):
            raise CheckFailedError(
                f"image {image.descriptor.digest} lists {len(image.layers)} layers "
                f"but its config has {len(config.diff_ids)} diff IDs"
            )
        for descriptor, diff_id in zip(image.layers, config.diff_ids, strict=True):
            _apply_layer(root, layout, descriptor, diff_id)
        # runc creates a missing working directory; do it here, before the rootfs is shared.
        _resolve(root, config.config.working_dir or "/", create=True)
        os.rename(tmp, final)
    except BaseException:
        _remove(tmp)
        raise


class _Hashing:
    """A reader that hashes what passes through it."""

    def __init__(self, inner: IO[bytes] | gzip.GzipFile) -> None:
        self._inner = inner
        self.sha = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self.sha.update(data)
        return data

    def seek(self, offset: int, /) -> int:
        # Streams only: gzip wants the method to exist, but reading straight through never seeks.
        raise io.UnsupportedOperation("a layer is read as a stream")

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


def _apply_layer(root: Path, layout: Layout, descriptor: Descriptor, diff_id: Digest) -> None:
    media_type = oci_layer_media_type(descriptor.media_type)
    if media_type not in (MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_TAR):
        raise UsageError(
            f"layer {descriptor.digest} is {descriptor.media_type}; goship unpacks tar and tar+gzip layers"
        )
    try:
        blob_file = layout.blob_path(descriptor.digest).open("rb")
    except FileNotFoundError as exc:
        raise UsageError(f"layer {descriptor.digest} is not in the layout {layout.root}") from exc
    with blob_file:
        blob = _Hashing(blob_file)
        gzipped = media_type == MEDIA_TYPE_LAYER_GZIP
        tar_bytes = _Hashing(gzip.GzipFile(fileobj=blob, mode="rb")) if gzipped else blob
        try:
            with tarfile.open(fileobj=tar_bytes, mode="r|") as tar:  # type: ignore[call-overload]
                _Changeset(root, descriptor.digest).apply(tar)
            tar_bytes.drain()  # the end-of-archive blocks and padding count towards the diff ID
            blob.drain()
        except (EOFError, tarfile.TarError, gzip.BadGzipFile, zlib.error) as exc:
            raise CheckFailedError(f"layer {descriptor.digest} is not a readable tar: {exc}") from exc
        except OSError as exc:
            raise EnvironmentFailure(f"cannot unpack layer {descriptor.digest}: {exc}") from exc
    if blob.digest != descriptor.digest:
        raise CheckFailedError(
            f"layer {descriptor.digest} in {layout.root} does not match its digest (corrupted)"
        )
    if tar_bytes.digest != diff_id:
        raise CheckFailedError(
            f"layer {descriptor.digest} unpacks to {tar_bytes.digest}, not its diff ID {diff_id}"
        )


def _clean(name: str, digest: Digest) -> str:
    """A tar entry's name as a path relative to the root ("" for the root itself)."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise CheckFailedError(f"layer {digest}: the entry {name!r} climbs out of the root with '..'")
    return "/".join(parts)


def _resolve(root: Path, rel: str, *, create: bool = False, follow_last: bool = True) -> Path | None:
    """``rel`` as a path under ``root``, following symlinks as if ``root`` were ``/``. With ``create`` it
    is a directory, made (0755, parents too) when missing; without, a missing parent gives None. With
    ``follow_last`` False the last component is returned as it is, link or not."""
    current = root
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = current.parent if current != root else root
            continue
        candidate = current / part
        if candidate.is_symlink() and (parts or follow_last):
            hops += 1
            if hops > _MAX_SYMLINK_HOPS:
                raise CheckFailedError(f"too many levels of symbolic links resolving /{rel} in the image")
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = root
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        if not parts and not create:
            return candidate
        if not candidate.exists():
            if not create:
                return None
            candidate.mkdir(mode=0o755)
        elif not candidate.is_dir():
            if not create:
                return None
            raise CheckFailedError(f"/{rel}: /{candidate.relative_to(root)} is a file, not a directory")
        current = candidate
    return current


def _inside(root: Path, link_dir: Path, target: str) -> str:
    """A symlink target that points where ``target`` would inside the image, written relative to the link's
    (real) directory, so it cannot lead out of the root on the host. ``..`` is resolved by name."""
    base = [] if target.startswith("/") else list(link_dir.relative_to(root).parts)
    parts = list(base)
    for p in target.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if parts:
                parts.pop()
        else:
            parts.append(p)
    here = list(link_dir.relative_to(root).parts)
    common = 0
    while common < min(len(here), len(parts)) and here[common] == parts[common]:
        common += 1
    return "/".join([".."] * (len(here) - common) + parts[common:]) or "."


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


class _Changeset:
    """Applies one layer's tar onto the root."""

    def __init__(self, root: Path, digest: Digest) -> None:
        self.root = root
        self.digest = digest
        self.written: set[Path] = set()  # what this layer put there, which its own whiteouts must spare

    def apply(self, tar: tarfile.TarFile) -> None:
        for member in tar:
            rel = _clean(member.name, self.digest)
            if not rel:
                if member.isdir():
                    self.root.chmod(_dir_mode(member.mode))
                continue
            parent_rel, _, name = rel.rpartition("/")
            if name.startswith(_WHITEOUT):
                self._whiteout(parent_rel, name)
                continue
            parent = _resolve(self.root, parent_rel, create=True)
            assert parent is not None
            dest = parent / name
            if member.isdir():
                self._directory(dest, member)
            elif member.isreg():
                self._file(dest, member, tar)
            elif member.issym():
                _replace(dest)
                os.symlink(_inside(self.root, parent, member.linkname), dest)
            elif member.islnk():
                self._hardlink(dest, member)
            else:
                continue  # devices and FIFOs: nothing an unprivileged process may or needs to create
            self.written.add(dest)

    def _whiteout(self, parent_rel: str, name: str) -> None:
        parent = _resolve(self.root, parent_rel)
        if parent is None or not parent.is_dir():
            return  # nothing below to hide
        if name == _OPAQUE:
            for child in list(parent.iterdir()):
                if child not in self.written:
                    _remove(child)
            return
        hidden = parent / name[len(_WHITEOUT) :]
        if hidden not in self.written:
            _remove(hidden)

    def _directory(self, dest: Path, member: tarfile.TarInfo) -> None:
        if not (dest.is_dir() and not dest.is_symlink()):
            _replace(dest)
            dest.mkdir()
        dest.chmod(_dir_mode(member.mode))

    def _file(self, dest: Path, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        _replace(dest)
        source = tar.extractfile(member)
        assert source is not None
        # O_EXCL and O_NOFOLLOW: whatever was at dest is gone, and nothing may have appeared there since.
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out, _CHUNK)
        os.chmod(dest, (member.mode & 0o777) | 0o600)
        os.utime(dest, (member.mtime, member.mtime))

    def _hardlink(self, dest: Path, member: tarfile.TarInfo) -> None:
        target_rel = _clean(member.linkname, self.digest)
        target_parent_rel, _, target_name = target_rel.rpartition("/")
        target_parent = _resolve(self.root, target_parent_rel)
        target = target_parent / target_name if target_parent is not None and target_name else None
        if target is None or not (target.is_file() or target.is_symlink()):
            raise CheckFailedError(
                f"layer {self.digest}: /{_clean(member.name, self.digest)} is a hard link to "
                f"/{target_rel}, which is not a file in the image"
            )
        _replace(dest)
        os.link(target, dest, follow_symlinks=False)


def _replace(dest: Path) -> None:
    if dest.exists() or dest.is_symlink():
        _remove(dest)


def _dir_mode(mode: int) -> int:
    # Owner rwx always, so later layers can write in it and the cache can be removed; no set-id bits.
    return (mode & 0o1777) | 0o700


def _describe(root: Path, config: ImageConfig, digest: Digest) -> Rootfs:
    container = config.config
    workdir_rel = container.working_dir or "/"
    working_dir = _resolve(root, workdir_rel)
    if working_dir is None or not working_dir.is_dir():
        raise UsageError(f"the working directory {workdir_rel} is not a directory in the image {digest}")
    command = (*container.entrypoint, *container.cmd)
    if not command:
        raise UsageError(f"the image {digest} has neither an Entrypoint nor a Cmd to run")
    program = _find_program(root, command[0], working_dir, container.env)
    if program is None:
        raise UsageError(f"the entrypoint {command[0]} is not an executable file in the image {digest}")
    return Rootfs(
        path=root,
        config=config,
        manifest_digest=digest,
        argv=(str(program), *command[1:]),
        env=container.env,
        working_dir=working_dir,
    )


def _find_program(root: Path, program: str, working_dir: Path, env: tuple[str, ...]) -> Path | None:
    if "/" in program:
        rel = program if program.startswith("/") else f"{working_dir.relative_to(root)}/{program}"
        candidates = [rel]
    else:
        path = next((e.split("=", 1)[1] for e in env if e.startswith("PATH=")), _DEFAULT_PATH)
        candidates = [f"{d}/{program}" for d in path.split(":") if d]
    for rel in candidates:
        found = _resolve(root, rel)
        if found is not None and found.is_file() and os.stat(found).st_mode & stat.S_IXUSR:
            return found
    return None
