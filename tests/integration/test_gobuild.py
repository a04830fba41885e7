"""goship.image.gobuild with the real go: services found, versions injected, byte-identical builds from two
clean copies, cross-compiled ELF binaries, a build cache that skips go build only when nothing that decides
the bytes changed, and an SBOM of the result (goship.image.sbom) that lists the real dependency."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from goship.errors import GoToolError, UsageError
from goship.gotool import Go
from goship.image import gobuild, sbom
from goship.image.gobuild import BuildCache, BuildRequest, go_env, parse_platform, slug
from tests.conftest import Repo

pytestmark = pytest.mark.integration

UUID = "github.com/google/uuid"
UUID_SUM = "h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0="
UUID_MOD_SUM = "h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo="
ELF_MACHINE = {"amd64": 62, "arm64": 183, "arm": 40}

GO_MOD = f"""module example.com/shop

go 1.22

require (
\texample.com/lib v0.0.0
\t{UUID} v1.6.0
)

replace example.com/lib => ../lib
"""

ORDERS = """package main

import (
\t"fmt"

\t"example.com/lib"
\t"example.com/shop/internal/banner"
\t"github.com/google/uuid"
)

var (
\tversion = "dev"
\tcommit  = "none"
\tdate    = "unknown"
)

func main() {
\tid := uuid.NewSHA1(uuid.NameSpaceURL, []byte("orders"))
\tfmt.Printf("orders version=%s commit=%s date=%s lib=%s banner=%s id=%s\\n", version, commit, date, lib.Name(), banner.Text, id)
}
"""

# billing names its version variable differently, to exercise configurable -X names.
BILLING = """package main

import "fmt"

var release, commit, date = "dev", "none", "unknown"

func main() { fmt.Printf("billing release=%s commit=%s date=%s\\n", release, commit, date) }
"""

FILES = {
    "shop/go.mod": GO_MOD,
    "shop/go.sum": f"{UUID} v1.6.0 {UUID_SUM}\n{UUID} v1.6.0/go.mod {UUID_MOD_SUM}\n",
    "shop/cmd/orders/main.go": ORDERS,
    "shop/cmd/billing/main.go": BILLING,
    "shop/internal/banner/banner.go": 'package banner\n\nimport _ "embed"\n\n//go:embed banner.txt\nvar Text string\n',
    "shop/internal/banner/banner.txt": "welcome",
    "shop/README.md": "# shop\n",
    # Not services: a test-only main, testdata and an underscore directory (go ignores the last two).
    "shop/cmd/onlytests/main_test.go": 'package main\n\nimport "testing"\n\nfunc TestX(t *testing.T) {}\n',
    "shop/testdata/tool/main.go": "package main\n\nfunc main() {}\n",
    "shop/_attic/old/main.go": "package main\n\nfunc main() {}\n",
    "lib/go.mod": "module example.com/lib\n\ngo 1.22\n",
    "lib/lib.go": 'package lib\n\nfunc Name() string { return "lib-1" }\n',
}


def write_shop(root: Path) -> Path:
    """The two-service module and its sibling ``replace`` target under ``root``; returns the module dir."""
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "shop"


class CountingGo(Go):
    """The real go, counting the builds it is asked for."""

    def __init__(self, cwd: Path, *, env: Mapping[str, str] | None = None) -> None:
        super().__init__(cwd, env=env)
        self.builds: list[str] = []

    def build(
        self,
        package: str,
        *,
        output: Path,
        cwd: Path | None = None,
        flags: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.builds.append(package)
        super().build(package, output=output, cwd=cwd, flags=flags, env=env)


def request(module: Path, platform: str = "linux/amd64", **changes: object) -> BuildRequest:
    base = BuildRequest(
        module_dir=module,
        package="./cmd/orders",
        output_name="orders",
        platform=parse_platform(platform),
        version="v1.2.3",
        commit="0123456789abcdef",
        date="2024-01-02T03:04:05Z",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def host_platform(go: Go) -> str:
    return "linux/" + go.env_json("GOARCH")["GOARCH"]


def run(binary: Path) -> str:
    return subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout.strip()


def elf_machine(binary: Path) -> tuple[int, int]:
    """(ELF class: 1 = 32-bit, 2 = 64-bit; e_machine) from the header."""
    head = binary.read_bytes()[:20]
    assert head[:4] == b"\x7fELF"
    return head[4], int.from_bytes(head[18:20], "little")


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return write_shop(tmp_path / "src")


def test_find_mains_lists_the_services_and_skips_test_only_testdata_and_underscore_dirs(shop: Path) -> None:
    mains = gobuild.find_mains(shop)
    assert [(m.package, m.name, m.import_path) for m in mains] == [
        ("./cmd/billing", "billing", "example.com/shop/cmd/billing"),
        ("./cmd/orders", "orders", "example.com/shop/cmd/orders"),
    ]
    assert mains[1].dir == (shop / "cmd" / "orders").resolve()


def test_a_build_injects_version_commit_and_date_and_is_static(shop: Path, tmp_path: Path) -> None:
    go = Go(shop)
    built = gobuild.build(go, request(shop, host_platform(go)), tmp_path / "out")
    assert built.path == tmp_path / "out" / slug(built.platform) / "orders"
    assert run(built.path).startswith(
        "orders version=v1.2.3 commit=0123456789abcdef date=2024-01-02T03:04:05Z lib=lib-1 banner=welcome"
    )
    assert built.sha256 == hashlib.sha256(built.path.read_bytes()).hexdigest()
    assert built.size == built.path.stat().st_size
    assert built.go_version == go.version()
    assert (
        built.build_id.count("/") == 3
    )  # an executable's ID: link action/content over compile action/content
    assert not built.from_cache
    info = sbom.read_build_info(go, built.path)
    assert info.setting("CGO_ENABLED") == "0"
    assert info.setting("-trimpath") == "true"
    assert info.setting("-gcflags") == "all=-dwarf=false"
    assert [k for k, _ in info.settings if k.startswith("vcs")] == []
    assert b".debug_info" not in built.path.read_bytes()  # no DWARF: the ELF section names are absent


def test_configured_variable_names_and_awkward_values_reach_the_binary(shop: Path, tmp_path: Path) -> None:
    go = Go(shop)
    billing = request(
        shop,
        host_platform(go),
        package="./cmd/billing",
        output_name="billing",
        version="1.0 it's rc",
        version_var="main.release",
        date="Tue, 2 Jan 2024",
    )
    built = gobuild.build(go, billing, tmp_path / "out")
    assert run(built.path) == "billing release=1.0 it's rc commit=0123456789abcdef date=Tue, 2 Jan 2024"
    with pytest.raises(UsageError, match="both kinds of quote"):
        gobuild.build(go, dataclasses.replace(billing, version='say "it\'s"'), tmp_path / "out")


def test_two_clean_copies_in_different_places_build_byte_identical_binaries(tmp_path: Path) -> None:
    first = write_shop(tmp_path / "a")
    second = write_shop(tmp_path / "b" / "deeper" / "elsewhere")
    # The first copy is a git checkout whose environment asks for VCS stamping; the second is a plain
    # directory built with an empty build cache, as on another machine: the bytes must not care.
    repo = Repo(first)
    repo.commit("feat: shop", files={})
    built_a = gobuild.build(
        Go(first, env={"GOFLAGS": "-buildvcs=true"}), request(first, "linux/arm64"), tmp_path / "out-a"
    )
    fresh_cache = {"GOCACHE": str(tmp_path / "gocache")}
    built_b = gobuild.build(Go(second, env=fresh_cache), request(second, "linux/arm64"), tmp_path / "out-b")
    assert built_a.path.read_bytes() == built_b.path.read_bytes()
    assert (built_a.sha256, built_a.build_id, built_a.size) == (
        built_b.sha256,
        built_b.build_id,
        built_b.size,
    )
    # A different commit time is a different binary: the date comes from the caller, not the clock.
    later = gobuild.build(
        Go(second), request(second, "linux/arm64", date="2024-01-03T00:00:00Z"), tmp_path / "out-c"
    )
    assert later.sha256 != built_a.sha256


def test_build_all_cross_compiles_every_service_for_every_platform(shop: Path, tmp_path: Path) -> None:
    go = CountingGo(shop)
    mains = gobuild.find_mains(shop)
    requests = [
        request(
            shop,
            platform,
            package=m.package,
            output_name=m.name,
            version_var="main.release" if m.name == "billing" else "main.version",
        )
        for m in mains
        for platform in ("linux/amd64", "linux/arm64", "linux/arm/v7")
    ]
    built = gobuild.build_all(go, requests, tmp_path / "out", max_workers=2)
    assert [(b.package, str(b.platform)) for b in built] == [(r.package, str(r.platform)) for r in requests]
    assert sorted(go.builds) == sorted(r.package for r in requests)
    for b in built:
        assert b.path == tmp_path / "out" / slug(b.platform) / Path(b.package).name
        bits, machine = elf_machine(b.path)
        assert machine == ELF_MACHINE[b.platform.architecture]
        assert bits == (1 if b.platform.architecture == "arm" else 2)
        info = sbom.read_build_info(go, b.path)
        assert (info.setting("GOOS"), info.setting("GOARCH")) == ("linux", b.platform.architecture)
    arm = next(b for b in built if b.platform.architecture == "arm")
    assert sbom.read_build_info(go, arm.path).setting("GOARM") == "7"
    with pytest.raises(UsageError, match="two builds write linux_amd64/billing"):
        gobuild.build_all(go, [requests[0], dataclasses.replace(requests[0], version="v2")], tmp_path / "out")


def test_the_cache_keeps_a_binary_until_something_that_decides_its_bytes_changes(
    shop: Path, tmp_path: Path
) -> None:
    go = Go(shop)
    cache = BuildCache(tmp_path / "cache")
    orders = request(shop, "linux/arm64")

    first = gobuild.build(go, orders, tmp_path / "out1", cache=cache)
    again = gobuild.build(go, orders, tmp_path / "out2", cache=cache)
    assert again.from_cache and not first.from_cache
    assert again == dataclasses.replace(first, path=again.path)
    assert again.path.read_bytes() == first.path.read_bytes()

    # Files that are not inputs of this binary change nothing; nor does building from another checkout.
    (shop / "README.md").write_text("# shop, renamed\n")
    (shop / "cmd" / "orders" / "main_test.go").write_text("package main\n")
    (shop / "cmd" / "billing" / "main.go").write_text(BILLING + "// changed\n")
    assert gobuild.build(go, orders, tmp_path / "out3", cache=cache).from_cache
    elsewhere = write_shop(tmp_path / "elsewhere" / "src")
    moved = dataclasses.replace(orders, module_dir=elsewhere)
    assert gobuild.build(Go(elsewhere), moved, tmp_path / "out4", cache=cache).from_cache

    def changed(step: str, req: BuildRequest = orders) -> str:
        built = gobuild.build(go, req, tmp_path / step, cache=cache)
        assert not built.from_cache, step
        return built.sha256

    main_go = shop / "cmd" / "orders" / "main.go"
    main_go.write_text(ORDERS.replace('"orders"', '"orders-2"'))
    shas = {first.sha256, changed("main-go")}
    (shop.parent / "lib" / "lib.go").write_text('package lib\n\nfunc Name() string { return "lib-2" }\n')
    shas.add(changed("replaced-dir"))
    (shop / "internal" / "banner" / "banner.txt").write_text("hello")
    shas.add(changed("embed"))
    shas.add(changed("ldflags", dataclasses.replace(orders, version="v1.2.4")))
    shas.add(changed("platform", dataclasses.replace(orders, platform=parse_platform("linux/amd64"))))
    assert len(shas) == 6

    # Back to the first sources: relinked from Go's cache, the same bytes as the first time.
    main_go.write_text(ORDERS)
    (shop.parent / "lib" / "lib.go").write_text(FILES["lib/lib.go"])
    (shop / "internal" / "banner" / "banner.txt").write_text("welcome")
    assert gobuild.build(go, orders, tmp_path / "back", cache=cache).sha256 == first.sha256

    # A damaged binary in the cache is rebuilt, never copied into an image.
    for kept in (tmp_path / "cache").glob("*/orders"):
        kept.write_bytes(b"garbage")
    rebuilt = gobuild.build(go, orders, tmp_path / "repaired", cache=cache)
    assert not rebuilt.from_cache and rebuilt.sha256 == first.sha256
    truncated = next((tmp_path / "cache").glob("*/orders"))
    truncated.write_bytes(truncated.read_bytes()[:4096])
    assert gobuild.build(go, orders, tmp_path / "repaired2", cache=cache).sha256 == first.sha256


def test_builds_of_one_target_at_once_wait_for_each_other(shop: Path, tmp_path: Path) -> None:
    cache = BuildCache(tmp_path / "cache")
    orders = request(shop, "linux/arm64")
    with ThreadPoolExecutor(max_workers=3) as pool:
        built = list(
            pool.map(lambda n: gobuild.build(Go(shop), orders, tmp_path / f"out{n}", cache=cache), range(3))
        )
    assert len({b.sha256 for b in built}) == 1
    assert sum(not b.from_cache for b in built) == 1


def test_the_default_cache_lives_under_xdg_cache_home() -> None:
    assert BuildCache.default({"XDG_CACHE_HOME": "/x/cache"}).directory == Path("/x/cache/goship/builds")
    assert BuildCache.default({}).directory == Path.home() / ".cache" / "goship" / "builds"


def test_a_failed_build_leaves_no_binary_and_keeps_go_s_message(shop: Path, tmp_path: Path) -> None:
    (shop / "cmd" / "orders" / "main.go").write_text("package main\n\nfunc main() { undefinedThing() }\n")
    with pytest.raises(GoToolError, match="undefined: undefinedThing"):
        gobuild.build(Go(shop), request(shop), tmp_path / "out", cache=BuildCache(tmp_path / "cache"))
    assert [p.name for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_bad_platforms_and_names_are_usage_errors(shop: Path) -> None:
    for text in ("linux", "linux/amd64/v9", "linux/arm/v8", "linux/386/v1", "Linux/AMD64"):
        with pytest.raises(UsageError):
            parse_platform(text)
    assert go_env(parse_platform("linux/arm64/v8")) == {
        "GOOS": "linux",
        "GOARCH": "arm64",
        "GOARM64": "v8.0",
    }
    assert go_env(parse_platform("linux/amd64/v3"))["GOAMD64"] == "v3"
    with pytest.raises(UsageError, match="plain file name"):
        request(shop, output_name="../orders")
    with pytest.raises(UsageError, match="qualified variable"):
        request(shop, version_var="version")


def test_the_sbom_of_a_built_binary_lists_uuid_the_replaced_lib_and_the_toolchain(
    shop: Path, tmp_path: Path
) -> None:
    go = Go(shop)
    built = gobuild.build(go, request(shop), tmp_path / "out")
    info = sbom.read_build_info(go, built.path)
    assert info.path == "example.com/shop/cmd/orders"
    assert info.main is not None and info.main.path == "example.com/shop"
    assert info.setting("-ldflags") is None  # with -trimpath go does not record -ldflags
    document = sbom.spdx_document(
        info,
        name="orders",
        namespace_seed="sha256:" + built.sha256,
        created=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        main_version="v1.2.3",
        binary_sha256=built.sha256,
    )
    packages = {p["name"]: p for p in document["packages"]}
    uuid = packages[UUID]
    assert uuid["versionInfo"] == "v1.6.0"
    assert uuid["externalRefs"] == [
        {
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": f"pkg:golang/{UUID}@v1.6.0",
        }
    ]
    assert uuid["comment"] == f"go.sum {UUID_SUM}"
    assert "=> ../lib" in packages["example.com/lib"]["comment"]
    assert packages["stdlib"]["versionInfo"] == built.go_version
    app = packages["example.com/shop/cmd/orders"]
    assert app["versionInfo"] == "v1.2.3"
    assert app["checksums"] == [{"algorithm": "SHA256", "checksumValue": built.sha256}]
    again = sbom.spdx_document(
        sbom.read_build_info(go, built.path),
        name="orders",
        namespace_seed="sha256:" + built.sha256,
        created=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        main_version="v1.2.3",
        binary_sha256=built.sha256,
    )
    assert sbom.serialize(again) == sbom.serialize(document)


def test_a_file_that_is_no_go_binary_is_a_usage_error(tmp_path: Path) -> None:
    not_go = tmp_path / "script.sh"
    not_go.write_text("#!/bin/sh\n")
    with pytest.raises(UsageError, match="not a Go binary"):
        sbom.read_build_info(Go(tmp_path), not_go)
