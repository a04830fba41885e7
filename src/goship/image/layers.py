"""Reproducible image layers: a tar of files, directories and symlinks with fixed metadata, compressed with
gzip, as the OCI image spec describes them (layer.md, media type ``application/vnd.oci.image.layer.v1.tar+gzip``).

The same inputs always give the same bytes, whatever the umask, the mtimes or the order of files on disk:
entries are sorted by path, parents are created implicitly (0755, root), every entry carries one mtime
(SOURCE_DATE_EPOCH), owners are numeric with empty names. The tar headers are written here rather than by
:mod:`tarfile`, whose output has changed between Python versions (PAX header choices, device fields,
padding to 10 KiB records): a USTAR header per entry, preceded by a PAX extended header only when a path,
link target or owner does not fit USTAR. The gzip member is written here too (mtime 0, no file name, level 6)
because :func:`gzip.compress` has changed its header bytes between versions. Only the deflate stream comes
from the machine's zlib; a different zlib could change the digest, never the diff ID.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
import struct
import tempfile
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from goship.errors import UsageError
from goship.image.oci import MEDIA_TYPE_LAYER_GZIP, Descriptor, Digest, parse_digest

__all__ = ["COMPRESSION_LEVEL", "Layer", "LayerBuilder", "parse_source_date_epoch"]

COMPRESSION_LEVEL = 6
"""Fixed, because the level changes the compressed bytes and so the digest. zlib's default: on a Go
binary it is ~3× faster than level 9 for a blob ~0.6 % larger (2 MB: 75 ms and 707 KB against 250 ms and
703 KB), and compressing the binary is on the critical path of every build."""

_BLOCK = 512
DEFLATE_BLOCK = 1 << 18
"""Tar bytes per independently compressed deflate block (fixed: it is part of what decides the digest)."""
_WINDOW = 1 << 15
_DEFLATE_THREADS = max(1, min(4, os.cpu_count() or 1))
_CHUNK = 1 << 20
_MAX_OCTAL = {8: 8**7, 12: 8**11}  # exclusive limits of the USTAR numeric fields, by field width
_PAX_NAME = b"././@PaxHeader"


def parse_source_date_epoch(text: str) -> int:
    """The SOURCE_DATE_EPOCH convention (reproducible-builds.org): whole seconds since 1970, UTC."""
    if not text.strip().isdigit():
        raise UsageError(f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970 (not {text!r})")
    return int(text)


@dataclass(frozen=True)
class Layer:
    """One compressed layer: its blob (or where it is) and the digests a manifest and a config need."""

    digest: Digest
    """Digest of the compressed blob: what the manifest lists and a registry stores."""
    size: int
    """Size of the compressed blob in bytes."""
    diff_id: Digest
    """Digest of the uncompressed tar: what the image config's ``rootfs.diff_ids`` lists."""
    media_type: str = MEDIA_TYPE_LAYER_GZIP
    """Layer media type; Docker names of pulled base layers are turned into their OCI names."""
    content: bytes | Path | None = field(default=None, repr=False)
    """The compressed blob in memory, or a file holding it; None when it lives only in a registry."""

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size)

    def open(self) -> BinaryIO:
        """The compressed blob, for reading."""
        if isinstance(self.content, bytes):
            return BytesIO(self.content)
        if isinstance(self.content, Path):
            return self.content.open("rb")
        raise UsageError(
            f"layer {self.digest} is not held locally",
            hint="fetch the base image's layers before writing the image to a layout",
        )


@dataclass(frozen=True)
class _Entry:
    path: str  # normalised: relative, "/"-separated, no trailing slash
    typeflag: bytes
    mode: int
    uid: int
    gid: int
    content: bytes | Path | None = None
    target: str = ""


def _normalise(path: str) -> str:
    parts = PurePosixPath(path).parts
    parts = parts[1:] if parts and parts[0] == "/" else parts
    if not parts or any(p in (".", "..") for p in parts) or "\0" in path:
        raise UsageError(f"expected a path inside the image like /app/server (not {path!r})")
    return "/".join(parts)


def _check_owner(mode: int, uid: int, gid: int, path: str) -> None:
    if not 0 <= mode <= 0o7777:
        raise UsageError(f"{path}: expected permission bits 0..0o7777 (not {oct(mode)})")
    if uid < 0 or gid < 0:
        raise UsageError(f"{path}: expected a numeric uid and gid >= 0 (not {uid}:{gid})")


class LayerBuilder:
    """Collects entries for one layer; :meth:`build` writes the tar and gzip."""

    def __init__(self, *, mtime: int = 0) -> None:
        if not 0 <= mtime < _MAX_OCTAL[12]:
            raise UsageError(f"expected an mtime in seconds since 1970 (not {mtime})")
        self.mtime = mtime
        self._entries: dict[str, _Entry] = {}

    def _add(self, entry: _Entry) -> LayerBuilder:
        if entry.path in self._entries:
            raise UsageError(f"/{entry.path} is added to the layer twice")
        _check_owner(entry.mode, entry.uid, entry.gid, entry.path)
        self._entries[entry.path] = entry
        return self

    def add_file(
        self, path: str, content: bytes | Path, *, mode: int = 0o644, uid: int = 0, gid: int = 0
    ) -> LayerBuilder:
        """A regular file with ``content`` (bytes, or a file read when the layer is built)."""
        return self._add(_Entry(_normalise(path), b"0", mode, uid, gid, content=content))

    def add_directory(self, path: str, *, mode: int = 0o755, uid: int = 0, gid: int = 0) -> LayerBuilder:
        """A directory with explicit metadata (parents of other entries are otherwise 0755, root)."""
        return self._add(_Entry(_normalise(path), b"5", mode, uid, gid))

    def add_symlink(self, path: str, target: str, *, uid: int = 0, gid: int = 0) -> LayerBuilder:
        """A symbolic link to ``target``, written as given (relative targets stay relative)."""
        if not target or "\0" in target:
            raise UsageError(f"/{path.lstrip('/')}: expected a symlink target (not {target!r})")
        return self._add(_Entry(_normalise(path), b"2", 0o777, uid, gid, target=target))

    def add_tree(self, src_dir: Path, dest: str, *, uid: int = 0, gid: int = 0) -> LayerBuilder:
        """Everything under ``src_dir`` at ``dest``, with nothing of the build machine leaking in: modes
        become 0755 (directories, and files with any execute bit) or 0644, owners ``uid:gid``. Symlinks
        stay symlinks when they point inside the tree; any other link or special file is refused."""
        if not src_dir.is_dir():
            raise UsageError(f"expected a directory of static data (not {str(src_dir)!r})")
        root = _normalise(dest)
        self.add_directory(root, uid=uid, gid=gid)
        for rel, st in _walk(src_dir):
            path = f"{root}/{rel}"
            if stat.S_ISDIR(st.st_mode):
                self.add_directory(path, uid=uid, gid=gid)
            elif stat.S_ISREG(st.st_mode):
                mode = 0o755 if st.st_mode & 0o111 else 0o644
                self.add_file(path, src_dir / rel, mode=mode, uid=uid, gid=gid)
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(src_dir / rel)
                resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
                if posixpath.isabs(target) or resolved == ".." or resolved.startswith("../"):
                    raise UsageError(
                        f"{src_dir / rel} links to {target!r}, outside {src_dir}",
                        hint="copy the file into the static directory, or make the link relative inside it",
                    )
                self.add_symlink(path, target, uid=uid, gid=gid)
            else:
                raise UsageError(
                    f"{src_dir / rel} is not a file, directory or symlink; it cannot go in a layer"
                )
        return self

    def _sorted_entries(self) -> list[_Entry]:
        entries = dict(self._entries)
        for path in self._entries:
            parent = posixpath.dirname(path)
            while parent:
                entries.setdefault(parent, _Entry(parent, b"5", 0o755, 0, 0))
                if entries[parent].typeflag != b"5":
                    raise UsageError(f"/{path} is inside /{parent}, which is not a directory in this layer")
                parent = posixpath.dirname(parent)
        # Byte order of the UTF-8 paths: a parent is a prefix of its children, so it always comes first.
        return [entries[p] for p in sorted(entries, key=lambda p: p.encode())]

    def build(self, *, into: Path | None = None) -> Layer:
        """The layer, in memory, or written to ``into`` (a directory) as ``<hex digest>.tar.gz``."""
        entries = self._sorted_entries()
        if into is None:
            buffer = BytesIO()
            sink = _GzipSink(buffer)
            self._write_tar(entries, sink)
            sink.close()
            return Layer(sink.digest, sink.size, sink.diff_id, content=buffer.getvalue())
        into.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=into, prefix=".layer-", delete=False) as tmp:
            try:
                sink = _GzipSink(tmp)
                self._write_tar(entries, sink)
                sink.close()
            except BaseException:
                Path(tmp.name).unlink(missing_ok=True)
                raise
        final = into / f"{sink.digest.removeprefix('sha256:')}.tar.gz"
        os.replace(tmp.name, final)
        final.chmod(0o644)
        return Layer(sink.digest, sink.size, sink.diff_id, content=final)

    def _write_tar(self, entries: list[_Entry], sink: _GzipSink) -> None:
        for entry in entries:
            name = entry.path + "/" if entry.typeflag == b"5" else entry.path
            if isinstance(entry.content, bytes):
                sink.write(self._header(entry, name, len(entry.content)))
                sink.write(entry.content)
                sink.write(_padding(len(entry.content)))
            elif isinstance(entry.content, Path):
                self._write_file(entry, name, entry.content, sink)
            else:
                sink.write(self._header(entry, name, 0))
        sink.write(b"\0" * (2 * _BLOCK))

    def _write_file(self, entry: _Entry, name: str, path: Path, sink: _GzipSink) -> None:
        try:
            with path.open("rb") as f:
                size = os.fstat(f.fileno()).st_size
                sink.write(self._header(entry, name, size))
                left = size
                while left and (chunk := f.read(min(_CHUNK, left))):
                    sink.write(chunk)
                    left -= len(chunk)
                if left or f.read(1):
                    raise UsageError(f"{path} changed while the layer was being built")
        except OSError as exc:
            raise UsageError(f"cannot read {path} for /{entry.path}: {exc.strerror}") from exc
        sink.write(_padding(size))

    def _header(self, entry: _Entry, name: str, size: int) -> bytes:
        pax: dict[str, str] = {}
        encoded = name.encode()
        split = _ustar_split(encoded)
        if split is None or not encoded.isascii():
            pax["path"] = name
            split = (b"", encoded[:100])
        link = entry.target.encode()
        if len(link) > 100 or not link.isascii():
            pax["linkpath"] = entry.target
            link = link[:100]
        numbers: list[int] = []
        for key, value, width in (("uid", entry.uid, 8), ("gid", entry.gid, 8), ("size", size, 12)):
            fits = value < _MAX_OCTAL[width]
            numbers.append(value if fits else 0)
            if not fits:
                pax[key] = str(value)
        uid, gid, size_field = numbers
        block = _ustar(split, entry.typeflag, entry.mode, uid, gid, size_field, self.mtime, link)
        if not pax:
            return block
        records = b"".join(_pax_record(k, v) for k, v in sorted(pax.items()))
        head = _ustar((b"", _PAX_NAME), b"x", 0o644, 0, 0, len(records), self.mtime, b"")
        return head + records + _padding(len(records)) + block


def _walk(root: Path, rel: str = "") -> Iterator[tuple[str, os.stat_result]]:
    # Sorted so that errors (and nothing else: the builder sorts entries) come in a stable order.
    with os.scandir(root / rel if rel else root) as it:
        children = sorted(it, key=lambda e: e.name)
    for child in children:
        path = f"{rel}/{child.name}" if rel else child.name
        st = child.stat(follow_symlinks=False)
        yield path, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(root, path)


def _padding(size: int) -> bytes:
    return b"\0" * (-size % _BLOCK)


def _ustar_split(name: bytes) -> tuple[bytes, bytes] | None:
    """(prefix, name) fitting USTAR's 155 + 100 bytes, or None when only a PAX path can hold it."""
    if len(name) <= 100:
        return b"", name
    # The shortest prefix (at most 155 bytes, cut at a "/") that leaves a non-empty name of at most 100.
    for i in range(1, min(len(name), 156)):
        if name[i] == ord("/") and 0 < len(name) - i - 1 <= 100:
            return name[:i], name[i + 1 :]
    return None


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def _ustar(
    split: tuple[bytes, bytes],
    typeflag: bytes,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime: int,
    link: bytes,
) -> bytes:
    prefix, name = split
    header = b"".join(
        [
            name.ljust(100, b"\0"),
            _octal(mode, 8),
            _octal(uid, 8),
            _octal(gid, 8),
            _octal(size, 12),
            _octal(mtime, 12),
            b" " * 8,  # the checksum is computed with its own field as spaces
            typeflag,
            link.ljust(100, b"\0"),
            b"ustar\x0000",
            b"\0" * 32,  # uname: numeric owners only, nothing of the build machine
            b"\0" * 32,  # gname
            _octal(0, 8),  # devmajor
            _octal(0, 8),  # devminor
            prefix.ljust(155, b"\0"),
            b"\0" * 12,
        ]
    )
    checksum = b"%06o\0 " % sum(header)
    return header[:148] + checksum + header[156:]


def _pax_record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n".encode()
    # The record starts with its own length in decimal, which counts the digits of that length too.
    length = len(body) + len(str(len(body)))
    length = len(body) + len(str(length))
    return str(length).encode() + body


class _Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


class _GzipSink:
    """Tar bytes in; a gzip member out (RFC 1952), with the digests of both sides.

    The deflate stream is made as pigz makes it: the tar is cut into blocks of :data:`DEFLATE_BLOCK`
    bytes, each compressed on its own (in parallel: zlib releases the GIL) with the 32 KiB before it as
    its dictionary and ended with a sync flush, so the pieces join into one valid stream. The bytes
    depend on the block size and the level only, never on how many threads there are; a layer smaller
    than one block is exactly what a single zlib stream would give.
    """

    def __init__(self, out: _Writable) -> None:
        self._out = out
        self._tar_hash = hashlib.sha256()
        self._blob_hash = hashlib.sha256()
        self._crc = 0
        self._length = 0
        self.size = 0
        self._pending = bytearray()
        self._history = b""
        self._jobs: deque[Future[bytes]] = deque()
        self._pool: ThreadPoolExecutor | None = None
        # Magic, deflate, no flags (so no name), mtime 0, no extra flags (neither level 9 nor 1), OS unknown.
        self._emit(b"\x1f\x8b\x08\x00" + b"\0\0\0\0" + b"\x00\xff")

    def _emit(self, data: bytes) -> None:
        self._out.write(data)
        self._blob_hash.update(data)
        self.size += len(data)

    def write(self, data: bytes) -> None:
        self._tar_hash.update(data)
        self._crc = zlib.crc32(data, self._crc)
        self._length += len(data)
        self._pending += data
        while len(self._pending) >= DEFLATE_BLOCK:
            block = bytes(self._pending[:DEFLATE_BLOCK])
            del self._pending[:DEFLATE_BLOCK]
            self._submit(block, final=False)

    def _submit(self, block: bytes, *, final: bool) -> None:
        history, self._history = self._history, block[-_WINDOW:]
        if self._pool is None and not final:
            self._pool = ThreadPoolExecutor(max_workers=_DEFLATE_THREADS)
        if self._pool is None:
            self._emit(_deflate(block, history, final))
            return
        self._jobs.append(self._pool.submit(_deflate, block, history, final))
        # Keep a few blocks in flight; hand out finished ones in order.
        while self._jobs and (len(self._jobs) > 2 * _DEFLATE_THREADS or self._jobs[0].done() or final):
            self._emit(self._jobs.popleft().result())

    def close(self) -> None:
        try:
            self._submit(bytes(self._pending), final=True)
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
        self._emit(struct.pack("<II", self._crc, self._length & 0xFFFFFFFF))

    @property
    def diff_id(self) -> Digest:
        return parse_digest("sha256:" + self._tar_hash.hexdigest())

    @property
    def digest(self) -> Digest:
        return parse_digest("sha256:" + self._blob_hash.hexdigest())


def _deflate(block: bytes, history: bytes, final: bool) -> bytes:
    """One block of the layer's deflate stream: primed with the 32 KiB before it, ended by a sync flush
    (or, for the last block, by the final block)."""
    if history:
        deflate = zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=history)
    else:
        deflate = zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return deflate.compress(block) + deflate.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)
