"""Image layers (goship.image.layers) are byte-identical for the same inputs: sorted entries, fixed
metadata, PAX where USTAR cannot hold a path, gzip with mtime 0 and no name."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import random
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goship.errors import UsageError
from goship.image import layers
from goship.image.layers import Layer, LayerBuilder, parse_source_date_epoch
from goship.image.oci import MEDIA_TYPE_LAYER_GZIP, sha256_digest

EPOCH = 1_795_000_000


def members(layer: Layer) -> list[tarfile.TarInfo]:
    assert isinstance(layer.content, bytes)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer.content))) as tar:
        return tar.getmembers()


def contents(layer: Layer) -> dict[str, bytes]:
    assert isinstance(layer.content, bytes)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer.content))) as tar:
        return {m.name: f.read() for m in tar.getmembers() if m.isfile() and (f := tar.extractfile(m))}


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def make_tree(root: Path, files: dict[str, bytes], *, mask: int, mtime: int, reverse: bool) -> Path:
    """``files`` under ``root``, created in either order, under ``mask``, all stamped ``mtime``."""
    with umask(mask):
        for rel, data in sorted(files.items(), reverse=reverse):
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if rel.endswith(".sh"):
                path.chmod(0o700 if reverse else 0o775)
        for path in [root, *root.rglob("*")]:
            os.utime(path, (mtime, mtime))
    return root


TREE = {
    "index.html": b"<h1>shop</h1>\n",
    "css/site.css": b"body{}\n",
    "bin/start.sh": b"#!/bin/sh\n",
    "img/logo/big.png": bytes(range(256)) * 40,
}


def test_the_same_tree_gives_the_same_layer_whatever_the_umask_mtimes_or_creation_order(
    tmp_path: Path,
) -> None:
    a = make_tree(tmp_path / "a", TREE, mask=0o022, mtime=1_000_000_000, reverse=False)
    b = make_tree(tmp_path / "b", TREE, mask=0o077, mtime=1_600_000_000, reverse=True)
    layer_a = LayerBuilder(mtime=EPOCH).add_tree(a, "/app/static").build()
    layer_b = LayerBuilder(mtime=EPOCH).add_tree(b, "/app/static").build()
    assert layer_a.content == layer_b.content
    assert (layer_a.digest, layer_a.diff_id) == (layer_b.digest, layer_b.diff_id)


def test_a_tree_gets_normalised_modes_root_owner_and_the_fixed_mtime(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", TREE, mask=0o077, mtime=1, reverse=False)
    (tree / "link").symlink_to("css/site.css")
    found = {m.name: m for m in members(LayerBuilder(mtime=EPOCH).add_tree(tree, "/srv/www", uid=7).build())}
    assert oct(found["srv/www/index.html"].mode) == oct(0o644)
    assert oct(found["srv/www/bin/start.sh"].mode) == oct(0o755)
    assert oct(found["srv/www/css"].mode) == oct(0o755)
    assert found["srv/www/link"].issym() and found["srv/www/link"].linkname == "css/site.css"
    assert {(m.uid, m.gid) for n, m in found.items() if n.startswith("srv/www")} == {(7, 0)}
    assert {(m.uname, m.gname, m.mtime) for m in found.values()} == {("", "", EPOCH)}
    assert (found["srv"].uid, found["srv"].mode) == (0, 0o755)


def test_a_tree_link_that_leaves_the_tree_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "secret").symlink_to("../../etc/shadow")
    with pytest.raises(UsageError, match="outside"):
        LayerBuilder().add_tree(tmp_path / "data", "/app/static")


def test_special_files_in_a_tree_are_refused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    os.mkfifo(tmp_path / "data" / "pipe")
    with pytest.raises(UsageError, match="not a file, directory or symlink"):
        LayerBuilder().add_tree(tmp_path / "data", "/app/static")


def test_a_missing_tree_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="expected a directory of static data"):
        LayerBuilder().add_tree(tmp_path / "nope", "/app/static")


def test_entries_are_sorted_with_implicit_parents_and_fixed_metadata() -> None:
    layer = (
        LayerBuilder(mtime=EPOCH)
        .add_file("/usr/share/z.txt", b"z")
        .add_symlink("/bin/app", "/app/server")
        .add_file("/app/server", b"\x7fELF", mode=0o755)
        .add_directory("/tmp", mode=0o1777)
        .add_directory("/home/nonroot", mode=0o700, uid=65532, gid=65532)
        .build()
    )
    found = members(layer)
    assert [m.name for m in found] == [
        "app",
        "app/server",
        "bin",
        "bin/app",
        "home",
        "home/nonroot",
        "tmp",
        "usr",
        "usr/share",
        "usr/share/z.txt",
    ]
    by_name = {m.name: m for m in found}
    assert (by_name["usr"].isdir(), by_name["usr"].mode, by_name["usr"].uid) == (True, 0o755, 0)
    assert by_name["tmp"].mode == 0o1777
    assert (by_name["home/nonroot"].uid, by_name["home/nonroot"].gid) == (65532, 65532)
    assert by_name["bin/app"].linkname == "/app/server"
    assert {(m.mtime, m.uname, m.gname) for m in found} == {(EPOCH, "", "")}
    assert layer.media_type == MEDIA_TYPE_LAYER_GZIP


def test_the_gzip_header_has_mtime_zero_no_name_and_the_digests_fit_the_bytes() -> None:
    layer = LayerBuilder(mtime=EPOCH).add_file("/a", b"a").build()
    assert isinstance(layer.content, bytes)
    blob = layer.content
    assert blob[:4] == b"\x1f\x8b\x08\x00"  # gzip, deflate, flags 0: no FNAME, no comment
    assert blob[4:8] == b"\0\0\0\0"  # MTIME 0
    assert layer.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert layer.size == len(blob)
    assert layer.diff_id == "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest()


def test_the_tar_bytes_are_pinned_so_a_new_python_cannot_change_them() -> None:
    # The diff ID depends on goship's tar writer alone (the gzip digest also on zlib): if this fails,
    # every image goship builds would change digest.
    layer = (
        LayerBuilder(mtime=EPOCH)
        .add_file("/etc/passwd", b"root:x:0:0::/root:/sbin/nologin\n")
        .add_directory("/tmp", mode=0o1777)
        .add_symlink("/bin/sh", "/app/x")
        .build()
    )
    assert layer.diff_id == PINNED_DIFF_ID
    tar = gzip.decompress(layer.content) if isinstance(layer.content, bytes) else b""
    assert tar[257:265] == b"ustar\x0000"
    assert len(tar) % 512 == 0 and tar.endswith(b"\0" * 1024)


PINNED_DIFF_ID = "sha256:4a999db3e77ff9d9016923061b832ef6d762d4bec93c38157e646f949f879204"


def test_long_and_non_ascii_paths_and_big_owners_survive_through_pax_headers() -> None:
    long = "deep/" + "d" * 120 + "/" + "e" * 150 + "/file.txt"
    layer = (
        LayerBuilder()
        .add_file(long, b"long")
        .add_file("/ünïcödé/ß.txt", b"u")
        .add_symlink("/l", "t" * 150)
        .add_file("/big", b"", uid=3_000_000, gid=4_000_000)
        .build()
    )
    by_name = {m.name: m for m in members(layer)}
    assert long in by_name and "ünïcödé/ß.txt" in by_name
    assert by_name["l"].linkname == "t" * 150
    assert (by_name["big"].uid, by_name["big"].gid) == (3_000_000, 4_000_000)
    assert contents(layer)[long] == b"long"


def test_a_path_that_fits_ustar_split_needs_no_pax_header() -> None:
    path = "p" * 90 + "/" + "q" * 60 + "/" + "n" * 90  # 242 bytes: prefix "p…/q…", name "n…"
    layer = LayerBuilder().add_file(path, b"x").build()
    assert [m.name for m in members(layer)][-1] == path
    assert isinstance(layer.content, bytes)
    assert b"PaxHeader" not in gzip.decompress(layer.content)


def test_files_are_read_from_disk_when_the_layer_is_built(tmp_path: Path) -> None:
    src = tmp_path / "server"
    src.write_bytes(b"\x7fELF" + bytes(5000))
    from_path = LayerBuilder(mtime=EPOCH).add_file("/app/server", src, mode=0o755).build()
    from_bytes = LayerBuilder(mtime=EPOCH).add_file("/app/server", src.read_bytes(), mode=0o755).build()
    assert from_path == from_bytes and from_path.content == from_bytes.content


def test_a_layer_built_into_a_directory_is_named_by_its_digest(tmp_path: Path) -> None:
    in_memory = LayerBuilder().add_file("/a", b"a").build()
    on_disk = LayerBuilder().add_file("/a", b"a").build(into=tmp_path / "layers")
    assert isinstance(on_disk.content, Path)
    assert on_disk.content.name == in_memory.digest.removeprefix("sha256:") + ".tar.gz"
    assert on_disk.content.read_bytes() == in_memory.content
    assert on_disk.open().read() == in_memory.content
    assert [p.name for p in (tmp_path / "layers").iterdir()] == [on_disk.content.name]


def test_a_layer_held_only_by_a_registry_cannot_be_opened() -> None:
    with pytest.raises(UsageError, match="not held locally"):
        Layer(digest=sha256_digest(b"x"), size=1, diff_id=sha256_digest(b"y")).open()


@pytest.mark.parametrize("path", ["", "/", "..", "/a/../b", "a\0b"])
def test_paths_outside_the_image_are_refused(path: str) -> None:
    with pytest.raises(UsageError, match="expected a path inside the image"):
        LayerBuilder().add_file(path, b"x")


def test_an_entry_added_twice_or_inside_a_file_is_refused() -> None:
    with pytest.raises(UsageError, match="added to the layer twice"):
        LayerBuilder().add_file("/a", b"1").add_file("a", b"2")
    with pytest.raises(UsageError, match="which is not a directory"):
        LayerBuilder().add_file("/a", b"1").add_file("/a/b", b"2").build()


def test_modes_owners_and_mtimes_out_of_range_are_refused() -> None:
    with pytest.raises(UsageError, match="permission bits"):
        LayerBuilder().add_file("/a", b"", mode=0o100644)
    with pytest.raises(UsageError, match="uid and gid"):
        LayerBuilder().add_directory("/a", uid=-1)
    with pytest.raises(UsageError, match="mtime"):
        LayerBuilder(mtime=-1)


def test_source_date_epoch_is_whole_seconds() -> None:
    assert parse_source_date_epoch("1795000000") == 1_795_000_000
    with pytest.raises(UsageError, match="SOURCE_DATE_EPOCH"):
        parse_source_date_epoch("2026-11-18")


segment = st.text(alphabet="abcXYZ019._-é", min_size=1, max_size=6).filter(lambda s: s not in (".", ".."))
file_sets = st.dictionaries(
    st.lists(segment, min_size=1, max_size=4).map("/".join),
    st.tuples(st.binary(max_size=600), st.sampled_from([0o644, 0o755, 0o600, 0o4755])),
    min_size=1,
    max_size=12,
).filter(lambda files: not any(other.startswith(p + "/") for p in files for other in files))


@settings(max_examples=60, deadline=None)
@given(files=file_sets, mtime=st.integers(min_value=0, max_value=2**33 - 1))
def test_any_file_set_gives_one_layer_whatever_the_order_of_adding(
    files: dict[str, tuple[bytes, int]], mtime: int
) -> None:
    def build(order: list[str]) -> Layer:
        builder = LayerBuilder(mtime=mtime)
        for path in order:
            data, mode = files[path]
            builder.add_file(path, data, mode=mode)
        return builder.build()

    forward = build(list(files))
    backward = build(list(reversed(files)))
    assert forward.content == backward.content
    found = members(forward)
    names = [m.name for m in found]
    assert names == sorted(names, key=str.encode)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in found} == {(mtime, 0, 0, "", "")}
    assert contents(forward) == {p: data for p, (data, _) in files.items()}
    assert {m.name: m.mode for m in found if m.isfile()} == {p: mode for p, (_, mode) in files.items()}


def _binary_like(size: int) -> bytes:
    """Compressible but not trivially so, like a Go binary: seeded random words."""
    rng = random.Random(7)
    words = [rng.randbytes(rng.randint(1, 12)) for _ in range(4096)]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words)
    return bytes(out[:size])


def test_a_big_layer_is_one_valid_gzip_stream_whatever_the_number_of_threads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = _binary_like(3 * layers.DEFLATE_BLOCK + 12345)
    (tmp_path / "app").write_bytes(data)
    built = {}
    for threads in (1, 2, 4):
        monkeypatch.setattr(layers, "_DEFLATE_THREADS", threads)
        built[threads] = (
            LayerBuilder(mtime=EPOCH).add_file("/app", tmp_path / "app").build(into=tmp_path / str(threads))
        )
    assert len({(b.digest, b.diff_id, b.size) for b in built.values()}) == 1
    layer = built[2]
    assert isinstance(layer.content, Path)
    blob = layer.content.read_bytes()
    assert contents(Layer(layer.digest, layer.size, layer.diff_id, content=blob)) == {"app": data}
    assert layer.diff_id == "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest()
    whole = zlib.compressobj(layers.COMPRESSION_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    single = len(whole.compress(gzip.decompress(blob)) + whole.flush())
    assert layer.size < single * 1.01  # blocks cost well under 1 % against one stream


def test_a_layer_smaller_than_a_block_is_a_single_zlib_stream() -> None:
    layer = LayerBuilder(mtime=EPOCH).add_file("/a", _binary_like(50_000)).build()
    assert isinstance(layer.content, bytes)
    tar = gzip.decompress(layer.content)
    whole = zlib.compressobj(layers.COMPRESSION_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    assert layer.content[10:-8] == whole.compress(tar) + whole.flush()
