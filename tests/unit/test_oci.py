"""goship.image.oci writes OCI image spec v1.1 JSON under the spec's field names, one canonical way, and
reads back what it wrote (and Docker schema 2 documents from registries)."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goship.errors import UsageError
from goship.image.oci import (
    ARTIFACT_TYPE_SPDX,
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_EMPTY,
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_MANIFEST,
    ContainerConfig,
    Descriptor,
    Digest,
    History,
    ImageConfig,
    Index,
    Manifest,
    Platform,
    artifact_manifest,
    canonical_json,
    describe,
    empty_descriptor,
    oci_layer_media_type,
    parse_config,
    parse_digest,
    parse_index,
    parse_manifest,
    rfc3339,
    sha256_digest,
)

D1 = Digest("sha256:" + "a" * 64)
D2 = Digest("sha256:" + "b" * 64)
D3 = Digest("sha256:" + "c" * 64)


def config() -> ImageConfig:
    return ImageConfig(
        architecture="arm64",
        os="linux",
        created="2026-11-18T11:06:40Z",
        config=ContainerConfig(
            user="65532:65532",
            env=("PATH=/bin", "MODE=prod"),
            entrypoint=("/app/shop",),
            cmd=("--port", "8080"),
            working_dir="/home/nonroot",
            labels={"team": "payments"},
            exposed_ports=("8080/tcp",),
        ),
        diff_ids=(D1, D2),
        history=(History(created="1970-01-01T00:00:00Z", created_by="base"), History(created_by="app")),
    )


def manifest() -> Manifest:
    return Manifest(
        config=Descriptor(MEDIA_TYPE_CONFIG, D3, 790),
        layers=(Descriptor(MEDIA_TYPE_LAYER_GZIP, D1, 10), Descriptor(MEDIA_TYPE_LAYER_GZIP, D2, 20)),
        annotations={"org.opencontainers.image.version": "1.2.3"},
    )


# --- canonical JSON and digests -----------------------------------------------------------------------


def test_canonical_json_sorts_keys_drops_white_space_and_writes_utf8() -> None:
    assert canonical_json({"b": 1, "a": ["é", {"d": None, "c": True}]}) == (
        '{"a":["é",{"c":true,"d":null}],"b":1}'.encode()
    )


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=8))
def test_the_same_values_give_the_same_bytes_whatever_the_insertion_order(values: dict[str, str]) -> None:
    reversed_order = dict(reversed(list(values.items())))
    assert canonical_json(values) == canonical_json(reversed_order)
    assert json.loads(canonical_json(values)) == values


def test_sha256_digest_and_the_spec_empty_descriptor() -> None:
    assert sha256_digest(b"") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    # The value image spec v1.1 (manifest.md, "Guidance for an Empty Descriptor") prints.
    assert empty_descriptor() == Descriptor(
        MEDIA_TYPE_EMPTY, Digest("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"), 2
    )


@pytest.mark.parametrize("text", ["sha256:abc", "sha256:" + "A" * 64, "md5", "", "sha256:" + "a" * 65])
def test_a_digest_that_breaks_the_grammar_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(UsageError, match="expected a digest like sha256:"):
        parse_digest(text)


def test_created_times_are_rfc3339_utc_without_fractions() -> None:
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
    assert rfc3339(1795000000) == "2026-11-18T11:06:40Z"


# --- descriptors and platforms --------------------------------------------------------------------------


def test_descriptor_json_uses_the_spec_field_names_and_leaves_out_empty_fields() -> None:
    d = Descriptor(
        MEDIA_TYPE_MANIFEST,
        D1,
        0,
        annotations={"org.opencontainers.image.ref.name": "v1"},
        platform=Platform("linux", "arm", "v7"),
        artifact_type=ARTIFACT_TYPE_SPDX,
    )
    assert d.to_json() == {
        "mediaType": MEDIA_TYPE_MANIFEST,
        "digest": D1,
        "size": 0,
        "annotations": {"org.opencontainers.image.ref.name": "v1"},
        "platform": {"os": "linux", "architecture": "arm", "variant": "v7"},
        "artifactType": ARTIFACT_TYPE_SPDX,
    }
    assert Descriptor.from_json(d.to_json()) == d
    assert Descriptor(MEDIA_TYPE_LAYER_GZIP, D1, 5).to_json() == {
        "mediaType": MEDIA_TYPE_LAYER_GZIP,
        "digest": D1,
        "size": 5,
    }


@given(
    size=st.integers(min_value=0, max_value=2**40),
    annotations=st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=10), max_size=4),
    arch=st.sampled_from(["amd64", "arm64", "s390x"]),
)
def test_descriptors_survive_a_round_trip_through_bytes(
    size: int, annotations: dict[str, str], arch: str
) -> None:
    d = Descriptor(MEDIA_TYPE_MANIFEST, D2, size, annotations=annotations, platform=Platform("linux", arch))
    assert Descriptor.from_json(json.loads(canonical_json(d.to_json()))) == d


def test_describe_names_bytes_by_their_sha256_and_length() -> None:
    d = describe(b"hello", "text/plain")
    assert (d.digest, d.size) == ("sha256:" + hashlib.sha256(b"hello").hexdigest(), 5)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"mediaType": "x", "digest": D1, "size": -1}, "size: expected a non-negative integer"),
        ({"mediaType": "x", "digest": D1, "size": True}, "size: expected a non-negative integer"),
        ({"digest": D1, "size": 1}, "'mediaType' is missing"),
        ({"mediaType": "x", "digest": "nope", "size": 1}, "expected a digest"),
        ([], "expected a JSON object"),
    ],
)
def test_a_malformed_descriptor_says_what_was_expected(bad: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Descriptor.from_json(bad)


def test_platforms_parse_from_and_print_as_os_arch_variant() -> None:
    assert Platform.parse("linux/arm/v7") == Platform("linux", "arm", "v7")
    assert str(Platform.parse("linux/amd64")) == "linux/amd64"
    platforms = [Platform("linux", "arm", "v7"), Platform("linux", "arm64"), Platform("linux", "arm")]
    assert [str(p) for p in sorted(platforms, key=lambda p: p.sort_key)] == [
        "linux/arm",
        "linux/arm/v7",
        "linux/arm64",
    ]
    with pytest.raises(UsageError, match="expected a platform like linux/amd64"):
        Platform.parse("linux")


# --- image configuration --------------------------------------------------------------------------------


def test_the_config_uses_the_spec_and_docker_field_names() -> None:
    obj = json.loads(config().to_bytes())
    assert obj == {
        "architecture": "arm64",
        "os": "linux",
        "created": "2026-11-18T11:06:40Z",
        "config": {
            "User": "65532:65532",
            "Env": ["PATH=/bin", "MODE=prod"],
            "Entrypoint": ["/app/shop"],
            "Cmd": ["--port", "8080"],
            "WorkingDir": "/home/nonroot",
            "Labels": {"team": "payments"},
            "ExposedPorts": {"8080/tcp": {}},
        },
        "rootfs": {"type": "layers", "diff_ids": [D1, D2]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "base"}, {"created_by": "app"}],
    }


def test_a_config_reads_back_as_it_was_written() -> None:
    assert parse_config(config().to_bytes()) == config()
    assert config().descriptor() == describe(config().to_bytes(), MEDIA_TYPE_CONFIG)
    assert parse_config(config().to_bytes()).platform == Platform("linux", "arm64")


def test_a_docker_config_with_nulls_reads_as_empty_settings() -> None:
    data = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": None, "Entrypoint": None, "User": ""},
            "rootfs": {"type": "layers", "diff_ids": [D1]},
            "history": [{"created_by": "ADD file", "empty_layer": False}],
            "container_config": {"Cmd": ["ignored"]},
        }
    ).encode()
    parsed = parse_config(data)
    assert parsed.config == ContainerConfig(env=("PATH=/bin",))
    assert parsed.diff_ids == (D1,)


def test_a_config_without_an_architecture_is_refused() -> None:
    with pytest.raises(UsageError, match="'architecture' is missing"):
        parse_config(b'{"os": "linux"}')


# --- manifests, indexes, artifacts ----------------------------------------------------------------------


def test_a_manifest_is_schema_2_with_its_media_type_and_reads_back() -> None:
    m = manifest()
    obj = json.loads(m.to_bytes())
    assert obj["schemaVersion"] == 2
    assert obj["mediaType"] == MEDIA_TYPE_MANIFEST
    assert [layer["digest"] for layer in obj["layers"]] == [D1, D2]
    assert "subject" not in obj and "artifactType" not in obj
    assert parse_manifest(m.to_bytes()) == m
    assert m.descriptor(platform=Platform("linux", "amd64")) == describe(
        m.to_bytes(), MEDIA_TYPE_MANIFEST, platform=Platform("linux", "amd64")
    )


def test_an_sbom_artifact_has_an_empty_config_its_type_and_a_subject() -> None:
    image = manifest().descriptor()
    sbom = describe(b'{"spdxVersion":"SPDX-2.3"}', ARTIFACT_TYPE_SPDX)
    artifact = artifact_manifest(ARTIFACT_TYPE_SPDX, [sbom], subject=image)
    obj = json.loads(artifact.to_bytes())
    assert obj["artifactType"] == ARTIFACT_TYPE_SPDX
    assert obj["config"] == empty_descriptor().to_json()
    assert obj["subject"] == image.to_json()
    assert obj["layers"] == [sbom.to_json()]
    assert parse_manifest(artifact.to_bytes()) == artifact
    assert artifact.descriptor().artifact_type == ARTIFACT_TYPE_SPDX


def test_an_artifact_without_blobs_still_has_one_layer_the_empty_descriptor() -> None:
    assert artifact_manifest("application/example", []).layers == (empty_descriptor(),)


def test_an_index_lists_platform_manifests_and_reads_back() -> None:
    amd = Descriptor(MEDIA_TYPE_MANIFEST, D1, 800, platform=Platform("linux", "amd64"))
    arm = Descriptor(MEDIA_TYPE_MANIFEST, D2, 800, platform=Platform("linux", "arm64"))
    index = Index(manifests=(amd, arm), annotations={"org.opencontainers.image.version": "1.2.3"})
    obj = json.loads(index.to_bytes())
    assert obj["mediaType"] == MEDIA_TYPE_INDEX
    assert [m["platform"]["architecture"] for m in obj["manifests"]] == ["amd64", "arm64"]
    assert parse_index(index.to_bytes()) == index
    assert json.loads(Index(manifests=()).to_bytes())["manifests"] == []


def test_a_docker_schema_2_manifest_reads_and_its_layers_have_oci_names() -> None:
    data = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "digest": D3, "size": 1},
            "layers": [{"mediaType": DOCKER_LAYER_GZIP, "digest": D1, "size": 2}],
        }
    ).encode()
    m = parse_manifest(data)
    assert m.media_type == DOCKER_MANIFEST
    assert oci_layer_media_type(m.layers[0].media_type) == MEDIA_TYPE_LAYER_GZIP
    assert oci_layer_media_type(MEDIA_TYPE_LAYER_GZIP) == MEDIA_TYPE_LAYER_GZIP


def test_a_manifest_without_media_type_is_taken_as_oci_as_the_spec_allows() -> None:
    data = json.dumps({"schemaVersion": 2, "config": manifest().config.to_json(), "layers": []}).encode()
    assert parse_manifest(data).media_type == MEDIA_TYPE_MANIFEST


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "manifest: expected JSON"),
        (b"[]", "manifest: expected a JSON object"),
        (b'{"schemaVersion": 1}', "expected schemaVersion 2"),
        (
            json.dumps({"schemaVersion": 2, "mediaType": MEDIA_TYPE_INDEX, "manifests": []}).encode(),
            re.escape(f"expected mediaType {MEDIA_TYPE_MANIFEST}"),
        ),
    ],
)
def test_what_is_not_a_manifest_is_refused_with_what_was_expected(data: bytes, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_manifest(data)


def test_a_manifest_given_as_an_index_is_refused() -> None:
    with pytest.raises(UsageError, match=re.escape(f"expected mediaType {MEDIA_TYPE_INDEX}")):
        parse_index(manifest().to_bytes())
