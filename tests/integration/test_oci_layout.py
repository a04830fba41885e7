"""Images goship composes from a real static Go binary, written to an OCI image layout and checked by
readers that share no code with goship: umoci (unpacks a runtime bundle), skopeo (reads the manifest,
config and index) and Python's tarfile. The tools must be installed (``make test`` installs them): a
missing tool fails the test instead of hiding it behind a skip."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import platform as host
import re
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from goship.errors import CheckFailedError, UsageError
from goship.image.base import NONROOT, SCRATCH, PulledBase, StaticBase, static_base
from goship.image.compose import (
    STATIC_DIR_ENV,
    ComposedImage,
    compose_image,
    compose_index,
    image_annotations,
)
from goship.image.layout import Layout, StoredImage, StoredIndex
from goship.image.oci import (
    ANNOTATION_BASE_DIGEST,
    ANNOTATION_BASE_NAME,
    ANNOTATION_REF_NAME,
    ARTIFACT_TYPE_SPDX,
    Platform,
    artifact_manifest,
    describe,
)

pytestmark = pytest.mark.integration

EPOCH = 1_795_000_000
HELLO = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from goship") }\n'
NATIVE = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[host.machine()]
FOREIGN = "arm64" if NATIVE == "amd64" else "amd64"
ANNOTATIONS = image_annotations(
    created=EPOCH, version="1.2.3", revision="0123abcd", source="https://example.com/shop", title="hello"
)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; `make test` installs it (these checks must not be skipped)")
    return path


def run(*argv: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{' '.join(map(str, argv))} failed:\n{done.stderr}"
    return done.stdout


def go_build(src: Path, out: Path, arch: str) -> Path:
    env = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOOS": "linux",
        "GOARCH": arch,
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "",
    }
    run(tool("go"), "build", "-trimpath", "-o", out, ".", cwd=src, env=env)
    return out


def hello_module(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "go.mod").write_text("module example.com/hello\n\ngo 1.22\n")
    (path / "main.go").write_text(HELLO)
    return path


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``hello`` built for the host's architecture and for the other one, static and -trimpath."""
    root = tmp_path_factory.mktemp("go")
    src = hello_module(root / "src")
    return {arch: go_build(src, root / f"hello-{arch}", arch) for arch in (NATIVE, FOREIGN)}


@pytest.fixture(scope="module")
def base() -> StaticBase:
    return static_base()


def compose(
    base: StaticBase | PulledBase, binary: Path, arch: str = NATIVE, **kwargs: object
) -> ComposedImage:
    return compose_image(
        base,
        binary,
        platform=Platform("linux", arch),
        created=EPOCH,
        annotations=ANNOTATIONS,
        app_name="hello",
        **kwargs,  # type: ignore[arg-type]
    )


def unpack(layout: Path, ref: str, bundle: Path) -> Path:
    run(tool("umoci"), "unpack", "--rootless", "--image", f"{layout}:{ref}", bundle)
    return bundle / "rootfs"


def skopeo(*args: str) -> str:
    return run(tool("skopeo"), "inspect", *args)


def mtree_owner(bundle: Path, path: str) -> tuple[int, int]:
    """The owner umoci recorded for ``path`` while unpacking rootless: it cannot chown, so it keeps the
    tar's uid and gid in the rootlesscontainers xattr (a protobuf: field 1 uid, field 2 gid, varints)."""
    (mtree,) = bundle.glob("*.mtree")
    name = path.rsplit("/", 1)[-1]
    line = next(ln for ln in mtree.read_text().splitlines() if ln.strip().startswith(name + " "))
    match = re.search(r"xattr\.user\.rootlesscontainers=(\S+)", line)
    assert match, line
    data, values, i = base64.b64decode(match.group(1)), [], 0
    while i < len(data):
        i += 1  # the field's key byte; fields come in order
        value = shift = 0
        while True:
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        values.append(value)
    return values[0], values[1]


# --- one image on the static base --------------------------------------------------------------------


def test_an_image_on_the_static_base_unpacks_with_umoci_and_its_binary_runs(
    tmp_path: Path, binaries: dict[str, Path], base: StaticBase
) -> None:
    image = compose(base, binaries[NATIVE])
    Layout(tmp_path / "layout").write(image, ref="v1.2.3")

    assert "v1.2.3" in run(tool("umoci"), "ls", "--layout", tmp_path / "layout").split()
    rootfs = unpack(tmp_path / "layout", "v1.2.3", tmp_path / "bundle")
    assert run(rootfs / "app" / "hello") == "hello from goship\n"
    assert f"nonroot:x:{NONROOT}:{NONROOT}:nonroot:/home/nonroot:" in (rootfs / "etc/passwd").read_text()
    assert stat.S_IMODE((rootfs / "tmp").stat().st_mode) == 0o1777
    assert stat.S_IMODE((rootfs / "app" / "hello").stat().st_mode) == 0o755
    assert (rootfs / "etc/ssl/certs/ca-certificates.crt").read_bytes() == base.ca_bundle_source.read_bytes()
    assert mtree_owner(tmp_path / "bundle", "home/nonroot") == (NONROOT, NONROOT)
    runtime = json.loads((tmp_path / "bundle" / "config.json").read_text())["process"]
    assert runtime["user"] == {"uid": NONROOT, "gid": NONROOT}
    assert runtime["args"] == ["/app/hello"] and runtime["cwd"] == "/home/nonroot"
    assert "HOME=/home/nonroot" in runtime["env"]  # umoci found nonroot in the image's /etc/passwd


def test_skopeo_reads_the_digest_manifest_and_config_goship_computed(
    tmp_path: Path, binaries: dict[str, Path], base: StaticBase
) -> None:
    image = compose(base, binaries[NATIVE], env={"MODE": "prod"}, exposed_ports=["8080/tcp"])
    Layout(tmp_path / "layout").write(image, ref="v1.2.3")
    ref = f"oci:{tmp_path / 'layout'}:v1.2.3"

    summary = json.loads(skopeo(ref))
    assert summary["Digest"] == image.descriptor.digest
    assert (summary["Architecture"], summary["Os"]) == (NATIVE, "linux")
    assert summary["Layers"] == [layer.digest for layer in image.layers]
    assert "MODE=prod" in summary["Env"]
    raw = skopeo("--raw", ref).encode()
    assert raw == image.manifest_bytes
    assert json.loads(raw)["annotations"] == ANNOTATIONS
    assert skopeo("--config", "--raw", ref).encode() == image.config_bytes


def test_the_base_layer_holds_owners_and_modes_as_tar_says(base: StaticBase) -> None:
    assert isinstance(base.layer.content, bytes)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(base.layer.content))) as tar:
        found = {m.name: m for m in tar.getmembers()}
    assert (found["home/nonroot"].uid, found["home/nonroot"].gid) == (NONROOT, NONROOT)
    assert found["tmp"].mode == 0o1777
    assert {m.name for m in found.values() if m.isfile()} == {
        "etc/passwd",
        "etc/group",
        "etc/nsswitch.conf",
        "etc/ssl/certs/ca-certificates.crt",
    }
    assert base.ca_bundle_digest in (base.history[0].comment or "")


def test_static_data_goes_in_its_own_layer_with_its_path_in_the_environment(
    tmp_path: Path, binaries: dict[str, Path], base: StaticBase
) -> None:
    data = tmp_path / "kodata"
    (data / "css").mkdir(parents=True)
    (data / "index.html").write_text("<h1>shop</h1>\n")
    (data / "css" / "site.css").write_text("body{}\n")
    image = compose(base, binaries[NATIVE], static_dir=data)
    assert len(image.layers) == 3
    assert f"{STATIC_DIR_ENV}=/app/static" in image.config.config.env
    Layout(tmp_path / "layout").write(image, ref="web")
    rootfs = unpack(tmp_path / "layout", "web", tmp_path / "bundle")
    assert (rootfs / "app/static/index.html").read_text() == "<h1>shop</h1>\n"
    assert stat.S_IMODE((rootfs / "app/static/css/site.css").stat().st_mode) == 0o644


# --- several platforms -------------------------------------------------------------------------------


def test_a_two_platform_index_reads_per_platform_with_skopeo_and_shares_the_base_layer(
    tmp_path: Path, binaries: dict[str, Path], base: StaticBase
) -> None:
    images = [compose(base, binaries[arch], arch) for arch in ("arm64", "amd64")]
    index = compose_index(images, annotations=ANNOTATIONS)
    layout = Layout(tmp_path / "layout")
    layout.write(index, ref="v1.2.3")
    ref = f"oci:{tmp_path / 'layout'}:v1.2.3"

    assert [str(i.platform) for i in index.images] == ["linux/amd64", "linux/arm64"]
    assert skopeo("--raw", ref).encode() == index.index_bytes
    for image in images:
        arch = image.platform.architecture
        summary = json.loads(skopeo("--override-os", "linux", "--override-arch", arch, ref))
        # skopeo reports the digest of what the ref names (the index) and the chosen platform's content.
        assert (summary["Digest"], summary["Architecture"]) == (index.descriptor.digest, arch)
        assert summary["Layers"] == [layer.digest for layer in image.layers]
    assert images[0].layers[0].digest == images[1].layers[0].digest == base.layer.digest
    blobs = list((tmp_path / "layout" / "blobs" / "sha256").iterdir())
    # The shared base layer; per platform an app layer, a config and a manifest; the index.
    assert len(blobs) == 1 + 2 * 3 + 1
    assert "v1.2.3" in run(tool("umoci"), "ls", "--layout", tmp_path / "layout").split()

    # umoci 0.4 calls a ref that names an index "ambiguous"; naming one platform's manifest works.
    foreign = next(i for i in images if i.platform.architecture == FOREIGN)
    layout.write(foreign, ref=f"v1.2.3-{FOREIGN}")
    rootfs = unpack(tmp_path / "layout", f"v1.2.3-{FOREIGN}", tmp_path / "bundle")
    assert (rootfs / "app/hello").read_bytes() == binaries[FOREIGN].read_bytes()

    stored = layout.read("v1.2.3")
    assert isinstance(stored, StoredIndex)
    assert stored.image_for(Platform("linux", "arm64")).descriptor.digest == images[0].descriptor.digest


def test_an_index_with_a_platform_twice_is_refused(binaries: dict[str, Path], base: StaticBase) -> None:
    image = compose(base, binaries[NATIVE])
    with pytest.raises(UsageError, match="one image per platform"):
        compose_index([image, image])


# --- determinism and checks --------------------------------------------------------------------------


def test_the_same_source_built_in_another_directory_gives_the_same_image_digest(
    tmp_path: Path, binaries: dict[str, Path], base: StaticBase
) -> None:
    again = go_build(hello_module(tmp_path / "elsewhere" / "src"), tmp_path / "hello", NATIVE)
    first = compose(base, binaries[NATIVE])
    second = compose(static_base(), again)
    assert second.descriptor.digest == first.descriptor.digest
    assert second.manifest_bytes == first.manifest_bytes


def test_a_binary_for_another_architecture_is_refused(binaries: dict[str, Path], base: StaticBase) -> None:
    with pytest.raises(CheckFailedError, match="another architecture") as caught:
        compose(base, binaries[FOREIGN], NATIVE)
    assert caught.value.hint == f"build it with GOARCH={NATIVE}"


def test_a_dynamically_linked_binary_is_refused_on_a_base_without_libc(base: StaticBase) -> None:
    dynamic = Path(sys.executable).resolve()
    with pytest.raises(CheckFailedError, match="dynamically linked"):
        compose(base, dynamic)
    with pytest.raises(CheckFailedError, match="dynamically linked"):
        compose_image(SCRATCH, dynamic, platform=Platform("linux", NATIVE), created=EPOCH)


def test_a_script_is_not_a_linux_executable(tmp_path: Path, base: StaticBase) -> None:
    (tmp_path / "run.sh").write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(CheckFailedError, match="not a Linux executable"):
        compose(base, tmp_path / "run.sh")


def test_on_scratch_the_image_holds_only_the_binary(binaries: dict[str, Path]) -> None:
    image = compose_image(SCRATCH, binaries[NATIVE], platform=Platform("linux", NATIVE), created=EPOCH)
    assert len(image.layers) == 1
    assert image.config.config.user is None
    assert image.config.config.entrypoint == (f"/app/{binaries[NATIVE].name}",)


# --- a base pulled from a registry -------------------------------------------------------------------


def test_an_image_on_a_pulled_base_comes_after_its_layers_inherits_its_settings_and_names_it(
    tmp_path: Path, binaries: dict[str, Path], base: StaticBase
) -> None:
    # A stand-in for what the registry client will fill in: an image read back from a layout.
    upstream = Layout(tmp_path / "upstream")
    upstream.write(
        compose(base, binaries[NATIVE], env={"TZ": "UTC"}, workdir="/srv", labels={"vendor": "acme"}),
        ref="v1",
    )
    stored = upstream.read("v1")
    assert isinstance(stored, StoredImage) and stored.config is not None
    pulled = PulledBase(
        repository="registry.example/acme/base",
        tag="v1",
        digest=stored.descriptor.digest,
        manifest=stored.manifest,
        config=stored.config,
        layer_blobs={d.digest: upstream.blob_path(d.digest) for d in stored.layers},
    )

    image = compose(pulled, binaries[NATIVE], env={"MODE": "prod"}, user="1000:1000")
    assert image.config.diff_ids[:2] == stored.config.diff_ids
    assert image.manifest.layers[:2] == stored.manifest.layers
    assert "TZ=UTC" in image.config.config.env and "MODE=prod" in image.config.config.env
    assert (image.config.config.user, image.config.config.working_dir) == ("1000:1000", "/srv")
    assert image.config.config.labels == {"vendor": "acme"}
    assert image.manifest.annotations[ANNOTATION_BASE_NAME] == "registry.example/acme/base:v1"
    assert image.manifest.annotations[ANNOTATION_BASE_DIGEST] == stored.descriptor.digest
    assert len(image.config.history) == 3

    Layout(tmp_path / "layout").write(image, ref="v2")
    rootfs = unpack(tmp_path / "layout", "v2", tmp_path / "bundle")
    assert run(rootfs / "app/hello") == "hello from goship\n"
    raw = json.loads(skopeo("--raw", f"oci:{tmp_path / 'layout'}:v2"))
    assert raw["annotations"][ANNOTATION_BASE_DIGEST] == stored.descriptor.digest


def test_a_pulled_base_whose_layers_are_not_fetched_cannot_be_written(
    tmp_path: Path, binaries: dict[str, Path], base: StaticBase
) -> None:
    upstream = Layout(tmp_path / "upstream")
    upstream.write(compose(base, binaries[NATIVE]), ref="v1")
    stored = upstream.read("v1")
    assert isinstance(stored, StoredImage) and stored.config is not None
    pulled = PulledBase("registry.example/base", stored.descriptor.digest, stored.manifest, stored.config)
    with pytest.raises(UsageError, match="not held locally"):
        Layout(tmp_path / "layout").write(compose(pulled, binaries[NATIVE]), ref="v2")


# --- the layout as a store ---------------------------------------------------------------------------


def test_refs_are_replaced_listed_and_read_back_by_ref_or_digest(
    tmp_path: Path, binaries: dict[str, Path], base: StaticBase
) -> None:
    layout = Layout(tmp_path / "layout")
    first = compose(base, binaries[NATIVE])
    second = compose(base, binaries[NATIVE], env={"MODE": "prod"})
    layout.write(first, ref="latest")
    layout.write(first, ref="v1.0.0")
    layout.write(second, ref="latest")

    refs = layout.refs()
    assert list(refs) == ["latest", "v1.0.0"]
    assert refs["latest"].digest == second.descriptor.digest
    assert refs["latest"].annotations[ANNOTATION_REF_NAME] == "latest"
    assert run(tool("umoci"), "ls", "--layout", tmp_path / "layout").split() == ["latest", "v1.0.0"]
    by_digest = layout.read(first.descriptor.digest)
    assert isinstance(by_digest, StoredImage) and by_digest.config == first.config
    assert Layout(tmp_path / "layout").refs() == refs  # reopening an existing layout keeps it
    with pytest.raises(UsageError, match="no ref 'v9'"):
        layout.read("v9")
    with pytest.raises(UsageError, match="expected a ref name"):
        layout.write(first, ref="bad name")


def test_gc_deletes_only_blobs_no_ref_reaches(
    tmp_path: Path, binaries: dict[str, Path], base: StaticBase
) -> None:
    layout = Layout(tmp_path / "layout")
    kept = compose(base, binaries[NATIVE])
    dropped = compose(base, binaries[FOREIGN], FOREIGN)
    layout.write(kept, ref="kept")
    layout.write(dropped, ref="dropped")
    sbom = b'{"spdxVersion":"SPDX-2.3"}'
    blob = describe(sbom, ARTIFACT_TYPE_SPDX)
    layout.put_blob(sbom, digest=blob.digest)
    artifact = artifact_manifest(ARTIFACT_TYPE_SPDX, [blob], subject=kept.descriptor)
    layout.put_blob(artifact.to_bytes())
    layout.put_blob(b"{}")
    layout.add_to_index(artifact.descriptor())  # unnamed: kept alive by index.json, found by referrers

    assert layout.remove_ref("dropped") and not layout.remove_ref("dropped")
    removed = set(layout.gc())
    assert removed == {
        dropped.descriptor.digest,
        dropped.manifest.config.digest,
        dropped.layers[-1].digest,
    }
    assert layout.gc() == ()
    assert isinstance(layout.read(artifact.descriptor().digest), StoredImage)
    run(tool("umoci"), "unpack", "--rootless", "--image", f"{tmp_path / 'layout'}:kept", tmp_path / "bundle")


def test_two_processes_writing_different_refs_keep_both(
    tmp_path: Path, binaries: dict[str, Path], base: StaticBase
) -> None:
    script = """
import sys
from pathlib import Path
from goship.image.base import static_base
from goship.image.compose import compose_image
from goship.image.layout import Layout
from goship.image.oci import Platform
layout, binary, arch, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
image = compose_image(static_base(), binary, platform=Platform("linux", arch), created=0)
for i in range(15):
    Layout(layout).write(image, ref=f"{name}-{i}")
"""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path / "layout"), str(binaries[arch]), arch, arch],
            stderr=subprocess.PIPE,
            text=True,
        )
        for arch in (NATIVE, FOREIGN)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    refs = Layout(tmp_path / "layout").refs()
    assert sorted(refs) == sorted(f"{arch}-{i}" for arch in (NATIVE, FOREIGN) for i in range(15))
    assert not [p for p in (tmp_path / "layout" / "blobs" / "sha256").iterdir() if p.name.startswith(".")]


def test_a_directory_that_is_not_a_layout_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    with pytest.raises(UsageError, match="not an OCI image layout"):
        Layout(tmp_path)
