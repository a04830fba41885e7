"""goship.image.sbom: build information read as runtime/debug.ParseBuildInfo reads it (from real
``go version -m`` output of go1.26.8), and the SPDX 2.3 document made from it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goship.errors import UsageError
from goship.image import sbom
from goship.image.sbom import BuildInfo, GoModule
from goship.semver import go_quote

CREATED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
UUID_SUM = "h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0="

# Captured from binaries built by go1.26.8: `orders` with -trimpath and github.com/google/uuid; `orders2`
# in a tagged git checkout with a directory replace, a version replace, -ldflags and -tags; `xg` outside
# module mode. Only the file names on the first lines were shortened.

ORDERS_TEXT = (
    "orders: go1.26.8\n"
    "\tpath\texample.com/shop/cmd/orders\n"
    "\tmod\texample.com/shop\t(devel)\t\n"
    "\tdep\tgithub.com/google/uuid\tv1.6.0\th1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=\n"
    "\tbuild\t-buildmode=exe\n"
    "\tbuild\t-compiler=gc\n"
    "\tbuild\t-trimpath=true\n"
    "\tbuild\tDefaultGODEBUG=asynctimerchan=1,containermaxprocs=0,cryptocustomrand=1,decoratemappings=0,gotestjsonbuildtext=1,gotypesalias=0,httpcookiemaxnum=0,httpservecontentkeepheaders=1,multipathtcp=0,randseednop=0,rsa1024min=0,tls3des=1,tlsmlkem=0,tlssecpmlkem=0,tlssha1=1,updatemaxprocs=0,urlmaxqueryparams=0,urlstrictcolons=0,winreadlinkvolume=0,winsymlink=0,x509keypairleaf=0,x509negativeserial=1,x509rsacrt=0,x509sha256skid=0,x509usepolicies=0\n"
    "\tbuild\tCGO_ENABLED=0\n"
    "\tbuild\tGOARCH=amd64\n"
    "\tbuild\tGOOS=linux\n"
    "\tbuild\tGOAMD64=v1\n"
)

ORDERS2_TEXT = (
    "orders2: go1.26.8\n"
    "\tpath\texample.com/shop/cmd/orders\n"
    "\tmod\texample.com/shop\tv1.4.0\t\n"
    "\tdep\texample.com/lib\tv0.0.0\n"
    "\t=>\t../lib\t(devel)\t\n"
    "\t\n"
    "\tdep\tgithub.com/google/uuid\tv1.6.0\n"
    "\t=>\tgithub.com/google/uuid\tv1.5.0\th1:1p67kYwdtXjb0gL0BPiP1Av9wiZPo5A8z2cWkTZ+eyU=\n"
    "\t\n"
    "\tbuild\t-buildmode=exe\n"
    "\tbuild\t-compiler=gc\n"
    '\tbuild\t-ldflags="-X main.version=1"\n'
    "\tbuild\t-tags=netgo,osusergo\n"
    "\tbuild\tDefaultGODEBUG=asynctimerchan=1,containermaxprocs=0,cryptocustomrand=1,decoratemappings=0,gotestjsonbuildtext=1,gotypesalias=0,httpcookiemaxnum=0,httpservecontentkeepheaders=1,multipathtcp=0,randseednop=0,rsa1024min=0,tls3des=1,tlsmlkem=0,tlssecpmlkem=0,tlssha1=1,updatemaxprocs=0,urlmaxqueryparams=0,urlstrictcolons=0,winreadlinkvolume=0,winsymlink=0,x509keypairleaf=0,x509negativeserial=1,x509rsacrt=0,x509sha256skid=0,x509usepolicies=0\n"
    "\tbuild\tCGO_ENABLED=0\n"
    "\tbuild\tGOARCH=amd64\n"
    "\tbuild\tGOOS=linux\n"
    "\tbuild\tGOAMD64=v1\n"
    "\tbuild\tvcs=git\n"
    "\tbuild\tvcs.revision=9690b47f6f6ccc56908a242532e107e41371408c\n"
    "\tbuild\tvcs.time=2026-11-28T11:08:11Z\n"
    "\tbuild\tvcs.modified=false\n"
)

XG_TEXT = (
    "xg: go1.26.8\n"
    "\tpath\tcommand-line-arguments\n"
    "\tbuild\t-buildmode=exe\n"
    "\tbuild\t-compiler=gc\n"
    "\tbuild\tDefaultGODEBUG=asynctimerchan=1,containermaxprocs=0,cryptocustomrand=1,decoratemappings=0,gotestjsonbuildtext=1,gotypesalias=0,httpcookiemaxnum=0,httplaxcontentlength=1,httpmuxgo121=1,httpservecontentkeepheaders=1,multipathtcp=0,netedns0=0,panicnil=1,randseednop=0,rsa1024min=0,tls10server=1,tls3des=1,tlsmlkem=0,tlsrsakex=1,tlssecpmlkem=0,tlssha1=1,tlsunsafeekm=1,updatemaxprocs=0,urlmaxqueryparams=0,urlstrictcolons=0,winreadlinkvolume=0,winsymlink=0,x509keypairleaf=0,x509negativeserial=1,x509rsacrt=0,x509sha256skid=0,x509usepolicies=0\n"
    "\tbuild\tCGO_ENABLED=1\n"
    "\tbuild\tCGO_CFLAGS=\n"
    "\tbuild\tCGO_CPPFLAGS=\n"
    "\tbuild\tCGO_CXXFLAGS=\n"
    "\tbuild\tCGO_LDFLAGS=\n"
    "\tbuild\tGOARCH=amd64\n"
    "\tbuild\tGOOS=linux\n"
    "\tbuild\tGOAMD64=v1\n"
)

ORDERS2_JSON = '{"GoVersion":"go1.26.8","Path":"example.com/shop/cmd/orders","Main":{"Path":"example.com/shop","Version":"v1.4.0"},"Deps":[{"Path":"example.com/lib","Version":"v0.0.0","Replace":{"Path":"../lib","Version":"(devel)"}},{"Path":"github.com/google/uuid","Version":"v1.6.0","Replace":{"Path":"github.com/google/uuid","Version":"v1.5.0","Sum":"h1:1p67kYwdtXjb0gL0BPiP1Av9wiZPo5A8z2cWkTZ+eyU="}}],"Settings":[{"Key":"-buildmode","Value":"exe"},{"Key":"-compiler","Value":"gc"},{"Key":"-ldflags","Value":"-X main.version=1"},{"Key":"-tags","Value":"netgo,osusergo"},{"Key":"DefaultGODEBUG","Value":"asynctimerchan=1,containermaxprocs=0,cryptocustomrand=1,decoratemappings=0,gotestjsonbuildtext=1,gotypesalias=0,httpcookiemaxnum=0,httpservecontentkeepheaders=1,multipathtcp=0,randseednop=0,rsa1024min=0,tls3des=1,tlsmlkem=0,tlssecpmlkem=0,tlssha1=1,updatemaxprocs=0,urlmaxqueryparams=0,urlstrictcolons=0,winreadlinkvolume=0,winsymlink=0,x509keypairleaf=0,x509negativeserial=1,x509rsacrt=0,x509sha256skid=0,x509usepolicies=0"},{"Key":"CGO_ENABLED","Value":"0"},{"Key":"GOARCH","Value":"amd64"},{"Key":"GOOS","Value":"linux"},{"Key":"GOAMD64","Value":"v1"},{"Key":"vcs","Value":"git"},{"Key":"vcs.revision","Value":"9690b47f6f6ccc56908a242532e107e41371408c"},{"Key":"vcs.time","Value":"2026-11-28T11:08:11Z"},{"Key":"vcs.modified","Value":"false"}]}'

XG_JSON = '{"GoVersion":"go1.26.8","Path":"command-line-arguments","Main":{},"Settings":[{"Key":"-buildmode","Value":"exe"},{"Key":"-compiler","Value":"gc"},{"Key":"DefaultGODEBUG","Value":"asynctimerchan=1,containermaxprocs=0,cryptocustomrand=1,decoratemappings=0,gotestjsonbuildtext=1,gotypesalias=0,httpcookiemaxnum=0,httplaxcontentlength=1,httpmuxgo121=1,httpservecontentkeepheaders=1,multipathtcp=0,netedns0=0,panicnil=1,randseednop=0,rsa1024min=0,tls10server=1,tls3des=1,tlsmlkem=0,tlsrsakex=1,tlssecpmlkem=0,tlssha1=1,tlsunsafeekm=1,updatemaxprocs=0,urlmaxqueryparams=0,urlstrictcolons=0,winreadlinkvolume=0,winsymlink=0,x509keypairleaf=0,x509negativeserial=1,x509rsacrt=0,x509sha256skid=0,x509usepolicies=0"},{"Key":"CGO_ENABLED","Value":"1"},{"Key":"CGO_CFLAGS"},{"Key":"CGO_CPPFLAGS"},{"Key":"CGO_CXXFLAGS"},{"Key":"CGO_LDFLAGS"},{"Key":"GOARCH","Value":"amd64"},{"Key":"GOOS","Value":"linux"},{"Key":"GOAMD64","Value":"v1"}]}'


# A -ldflags value with quotes, a tab and non-ASCII letters, which go prints quoted (strconv.Quote).
QUOTED_LDFLAGS_LINE = '\tbuild\t-ldflags="-X \'main.version=say \\"hi\\"\\ttab\' -X main.commit=ünï"\n'


def doc(info: BuildInfo, **kwargs: object) -> dict[str, object]:
    args: dict[str, object] = {"name": "orders", "namespace_seed": "sha256:" + "ab" * 32, "created": CREATED}
    args.update(kwargs)
    return sbom.spdx_document(info, **args)  # type: ignore[arg-type]


def package_named(document: dict[str, object], name: str) -> dict[str, object]:
    packages = document["packages"]
    assert isinstance(packages, list)
    return next(p for p in packages if p["name"] == name)


def purl_of(package: dict[str, object]) -> str:
    refs = package["externalRefs"]
    assert isinstance(refs, list)
    return next(r["referenceLocator"] for r in refs if r["referenceType"] == "purl")


# --- reading build information -------------------------------------------------------------------------


def test_text_of_a_trimpath_build_gives_main_module_dependency_sum_and_settings() -> None:
    info = sbom.parse_text(ORDERS_TEXT)
    assert info.go_version == "go1.26.8"
    assert info.path == "example.com/shop/cmd/orders"
    assert info.main == GoModule("example.com/shop", "(devel)")
    assert info.deps == (GoModule("github.com/google/uuid", "v1.6.0", UUID_SUM),)
    assert info.setting("-trimpath") == "true"
    assert info.setting("CGO_ENABLED") == "0"
    assert info.setting("GOAMD64") == "v1"
    assert info.setting("vcs.revision") is None
    assert [k for k, _ in info.settings][:3] == ["-buildmode", "-compiler", "-trimpath"]


def test_replacements_attach_to_the_module_above_them_and_blank_lines_are_skipped() -> None:
    info = sbom.parse_text(ORDERS2_TEXT)
    lib, uuid = info.deps
    assert lib == GoModule("example.com/lib", "v0.0.0", "", GoModule("../lib", "(devel)"))
    assert uuid.replace == GoModule(
        "github.com/google/uuid", "v1.5.0", "h1:1p67kYwdtXjb0gL0BPiP1Av9wiZPo5A8z2cWkTZ+eyU="
    )
    assert uuid.effective.version == "v1.5.0"
    assert info.main == GoModule("example.com/shop", "v1.4.0")
    assert info.setting("-ldflags") == "-X main.version=1"
    assert info.setting("-tags") == "netgo,osusergo"
    assert info.setting("vcs.revision") == "9690b47f6f6ccc56908a242532e107e41371408c"
    assert info.setting("vcs.modified") == "false"


@pytest.mark.parametrize(("text", "json_text"), [(ORDERS2_TEXT, ORDERS2_JSON), (XG_TEXT, XG_JSON)])
def test_the_text_and_json_forms_of_one_binary_read_the_same(text: str, json_text: str) -> None:
    assert sbom.parse_text(text) == sbom.parse_json(json_text)


def test_a_binary_built_outside_module_mode_has_no_main_module() -> None:
    info = sbom.parse_text(XG_TEXT)
    assert info.main is None
    assert info.path == "command-line-arguments"
    assert info.deps == ()
    assert info.setting("CGO_CFLAGS") == ""


def test_quoted_setting_values_are_unquoted_as_go_strings() -> None:
    info = sbom.parse_text("x: go1.26.8\n" + QUOTED_LDFLAGS_LINE)
    assert info.setting("-ldflags") == "-X 'main.version=say \"hi\"\ttab' -X main.commit=ünï"


def test_a_quoted_key_is_read_up_to_its_closing_quote() -> None:
    info = sbom.parse_text('x: go1.26.8\n\tbuild\t"we\\"ird=key"=`raw value`\n')
    assert info.settings == (('we"ird=key', "raw value"),)


def test_lines_of_an_unknown_kind_are_skipped_as_go_skips_them() -> None:
    info = sbom.parse_text("x: go1.26.8\n\tpath\tp\n\tfuture\tsomething\n\tbuild\tGOOS=linux\n")
    assert info.settings == (("GOOS", "linux"),)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("\t=>\t../lib\t(devel)\t", "replacement with no module on previous line"),
        ("\tdep\tonly-a-path", "expected 2 or 3 columns; got 1"),
        ("\tmod\tm\tv1.0.0\n\t=>\tm\tv1.0.1", "expected 3 columns; got 2"),
        ("\tbuild\tnovalue", "missing key or '='"),
        ('\tbuild\t"unterminated=1', "invalid quoted string"),
        ('\tbuild\tk="\\q"', "invalid quoted string"),
    ],
)
def test_malformed_lines_are_usage_errors_that_name_the_line(line: str, why: str) -> None:
    with pytest.raises(UsageError, match=re.escape(why)) as caught:
        sbom.parse_text("x: go1.26.8\n" + line + "\n")
    assert "line " in caught.value.message


def test_text_without_the_version_line_is_refused() -> None:
    with pytest.raises(UsageError, match="FILE: goVERSION"):
        sbom.parse_text("\tpath\tp\n")
    with pytest.raises(UsageError, match="go version -m -json"):
        sbom.parse_json("not json")


def render(info: BuildInfo) -> str:
    """What go version -m prints: runtime/debug.BuildInfo.String(), each line behind a tab."""

    def quote_if(text: str, chars: str) -> str:
        return go_quote(text) if not text or any(c in text for c in chars) else text

    lines = [f"path\t{info.path}"]
    for word, mod in ([("mod", info.main)] if info.main else []) + [("dep", d) for d in info.deps]:
        if mod.replace is None:
            lines.append(f"{word}\t{mod.path}\t{mod.version}\t{mod.sum}")
        else:
            r = mod.replace
            lines += [f"{word}\t{mod.path}\t{mod.version}", f"=>\t{r.path}\t{r.version}\t{r.sum}", ""]
    for key, value in info.settings:
        key_text = quote_if(key, '= \t\r\n"`')
        value_text = go_quote(value) if any(c in value for c in ' \t\r\n"`') else value
        lines.append(f"build\t{key_text}={value_text}")
    return f"bin: {info.go_version}\n" + "".join(f"\t{line}\n" for line in lines)


_word = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters="\t\n\r"), min_size=1)
_module = st.builds(GoModule, _word, _word, st.one_of(st.just(""), _word))
_with_replace = st.builds(
    lambda m, r: GoModule(m.path, m.version, "", r), _module, st.builds(GoModule, _word, _word, _word)
)


@given(
    main=st.one_of(st.none(), _module, _with_replace),
    deps=st.lists(st.one_of(_module, _with_replace), max_size=4),
    settings=st.lists(st.tuples(st.text(min_size=1), st.text()), max_size=4),
)
def test_whatever_go_prints_reads_back_as_the_same_build_information(
    main: GoModule | None, deps: list[GoModule], settings: list[tuple[str, str]]
) -> None:
    info = BuildInfo("go1.26.8", "example.com/p", main, tuple(deps), tuple(settings))
    assert sbom.parse_text(render(info)) == info


# --- purls ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "version", "expected"),
    [
        ("github.com/google/uuid", "v1.6.0", "pkg:golang/github.com/google/uuid@v1.6.0"),
        (
            "github.com/Azure/go-autorest",
            "v14.2.0+incompatible",
            "pkg:golang/github.com/Azure/go-autorest@v14.2.0%2Bincompatible",
        ),
        ("gopkg.in/yaml.v3", "v3.0.1", "pkg:golang/gopkg.in/yaml.v3@v3.0.1"),
        (
            "example.com/a~b_c-d",
            "v0.0.0-20240101000000-abcdefabcdef",
            "pkg:golang/example.com/a~b_c-d@v0.0.0-20240101000000-abcdefabcdef",
        ),
        (
            "example.com/with space/@at#hash?q",
            "v1.0.0",
            "pkg:golang/example.com/with%20space/%40at%23hash%3Fq@v1.0.0",
        ),
        ("stdlib", "1.26.8", "pkg:golang/stdlib@1.26.8"),
        ("example.com/lib", "", "pkg:golang/example.com/lib"),
    ],
)
def test_purls_percent_encode_each_segment_and_keep_case(path: str, version: str, expected: str) -> None:
    assert sbom.purl(path, version) == expected


def test_a_package_inside_a_module_is_the_purl_subpath() -> None:
    assert (
        sbom.purl("example.com/shop", "v1.4.0", subpath="cmd/orders")
        == "pkg:golang/example.com/shop@v1.4.0#cmd/orders"
    )


@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Cs",)), min_size=1).filter(lambda s: "/" not in s),
        min_size=1,
    ),
    st.text(st.characters(blacklist_categories=("Cs",))),
)
def test_every_purl_segment_decodes_back_to_the_module_path_and_version(
    segments: list[str], version: str
) -> None:
    text = sbom.purl("/".join(segments), version)
    rest = text.removeprefix("pkg:golang/")
    path_part, _, version_part = rest.partition("@")
    assert [unquote(s) for s in path_part.split("/")] == segments
    assert unquote(version_part) == version
    assert re.fullmatch(r"[A-Za-z0-9.\-_~:%/@]*", rest)


# --- the SPDX document ----------------------------------------------------------------------------------


def test_the_document_has_the_spdx_2_3_header_and_a_seeded_namespace() -> None:
    document = doc(sbom.parse_text(ORDERS_TEXT))
    assert document["spdxVersion"] == "SPDX-2.3"
    assert document["dataLicense"] == "CC0-1.0"
    assert document["SPDXID"] == "SPDXRef-DOCUMENT"
    assert document["name"] == "orders"
    assert document["creationInfo"] == {"creators": ["Tool: goship-0.1.0"], "created": "2024-01-02T03:04:05Z"}
    namespace = document["documentNamespace"]
    assert isinstance(namespace, str)
    assert re.fullmatch(r"https://spdx\.org/spdxdocs/goship/orders-[0-9a-f-]{36}", namespace)
    assert "#" not in namespace


def test_one_package_per_module_plus_the_program_and_the_standard_library() -> None:
    document = doc(sbom.parse_text(ORDERS2_TEXT))
    packages = document["packages"]
    assert isinstance(packages, list)
    assert [p["name"] for p in packages] == [
        "example.com/shop/cmd/orders",
        "example.com/lib",
        "github.com/google/uuid",
        "stdlib",
    ]
    for p in packages:
        assert re.fullmatch(r"SPDXRef-[A-Za-z0-9.-]+", p["SPDXID"])
        assert p["downloadLocation"] == "NOASSERTION"
        assert p["supplier"] == "NOASSERTION"
        assert p["licenseConcluded"] == "NOASSERTION"
        assert p["filesAnalyzed"] is False
        assert "checksums" not in p
    assert len({p["SPDXID"] for p in packages}) == len(packages)
    app = packages[0]
    assert app["primaryPackagePurpose"] == "APPLICATION"
    assert app["versionInfo"] == "v1.4.0"
    assert purl_of(app) == "pkg:golang/example.com/shop@v1.4.0#cmd/orders"


def test_relationships_describe_the_program_which_depends_on_everything_else() -> None:
    document = doc(sbom.parse_text(ORDERS2_TEXT))
    packages, relationships = document["packages"], document["relationships"]
    assert isinstance(packages, list) and isinstance(relationships, list)
    app_id = packages[0]["SPDXID"]
    assert relationships[0] == {
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": app_id,
    }
    assert [
        (r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in relationships[1:]
    ] == [(app_id, "DEPENDS_ON", p["SPDXID"]) for p in packages[1:]]


def test_a_replaced_module_is_named_by_its_import_path_and_versioned_by_the_code_linked_in() -> None:
    document = doc(sbom.parse_text(ORDERS2_TEXT))
    uuid = package_named(document, "github.com/google/uuid")
    assert uuid["versionInfo"] == "v1.5.0"
    assert purl_of(uuid) == "pkg:golang/github.com/google/uuid@v1.5.0"
    assert "github.com/google/uuid v1.6.0 => github.com/google/uuid v1.5.0" in str(uuid["comment"])
    lib = package_named(document, "example.com/lib")
    assert "versionInfo" not in lib  # a directory has no version; (devel) would be a made-up one
    assert purl_of(lib) == "pkg:golang/example.com/lib"
    assert "=> ../lib" in str(lib["comment"])


def test_h1_sums_are_kept_as_comments_never_as_spdx_checksums() -> None:
    uuid = package_named(doc(sbom.parse_text(ORDERS_TEXT)), "github.com/google/uuid")
    assert uuid["comment"] == f"go.sum {UUID_SUM}"
    assert "checksums" not in uuid


def test_the_go_toolchain_is_the_stdlib_package_as_scanners_expect_it() -> None:
    stdlib = package_named(doc(sbom.parse_text(ORDERS_TEXT)), "stdlib")
    assert stdlib["versionInfo"] == "go1.26.8"
    assert purl_of(stdlib) == "pkg:golang/stdlib@1.26.8"
    refs = stdlib["externalRefs"]
    assert isinstance(refs, list)
    assert {
        "referenceCategory": "SECURITY",
        "referenceType": "cpe23Type",
        "referenceLocator": "cpe:2.3:a:golang:go:1.26.8:-:*:*:*:*:*:*",
    } in refs
    assert stdlib["licenseDeclared"] == "BSD-3-Clause"


def test_a_devel_main_module_takes_the_injected_version_when_given() -> None:
    info = sbom.parse_text(ORDERS_TEXT)
    app = doc(info)["packages"][0]  # type: ignore[index]
    assert "versionInfo" not in app
    assert purl_of(app) == "pkg:golang/example.com/shop#cmd/orders"
    app = doc(info, main_version="v1.2.3", binary_sha256="sha256:" + "cd" * 32)["packages"][0]  # type: ignore[index]
    assert app["versionInfo"] == "v1.2.3"
    assert purl_of(app) == "pkg:golang/example.com/shop@v1.2.3#cmd/orders"
    assert app["checksums"] == [{"algorithm": "SHA256", "checksumValue": "cd" * 32}]


def test_the_same_binary_gives_the_same_bytes_and_another_seed_another_namespace() -> None:
    info = sbom.parse_text(ORDERS2_TEXT)
    first, again = doc(info), doc(sbom.parse_json(ORDERS2_JSON))
    assert sbom.serialize(first) == sbom.serialize(again)
    assert sbom.digest(first) == sbom.digest(again)
    other = doc(info, namespace_seed="sha256:" + "ef" * 32)
    assert other["documentNamespace"] != first["documentNamespace"]
    assert {k: v for k, v in other.items() if k != "documentNamespace"} == {
        k: v for k, v in first.items() if k != "documentNamespace"
    }


def test_serialization_is_canonical_json() -> None:
    document = doc(sbom.parse_text(ORDERS_TEXT))
    data = sbom.serialize(document)
    assert (
        data
        == json.dumps(json.loads(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert b"\n" not in data and data.startswith(b'{"SPDXID":"SPDXRef-DOCUMENT","creationInfo":')
    assert sbom.digest(document).startswith("sha256:") and len(sbom.digest(document)) == 71


def test_created_is_written_in_utc_and_must_carry_a_zone() -> None:
    info = sbom.parse_text(ORDERS_TEXT)
    plus_two = datetime(2024, 1, 2, 5, 4, 5, 999, tzinfo=timezone(timedelta(hours=2)))
    assert doc(info, created=plus_two)["creationInfo"]["created"] == "2024-01-02T03:04:05Z"  # type: ignore[index]
    with pytest.raises(UsageError, match="timezone-aware"):
        doc(info, created=datetime(2024, 1, 2))
    with pytest.raises(UsageError, match="namespace seed"):
        doc(info, namespace_seed="")
