"""The OCI distribution client against the real registry (Debian docker-registry, distribution 2.8):
push and pull, mounts, tags, referrers through the tag-schema fallback, Basic and token auth, and
retries through a fault-injecting proxy; skopeo reads what goship pushed."""

from __future__ import annotations

import email.utils
import gzip
import io
import json
import re
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from goship._backoff import Backoff
from goship._http import Client
from goship.errors import RegistryError
from goship.image.auth import Credentials
from goship.image.oci import MEDIA_TYPE_INDEX as OCI_INDEX
from goship.image.oci import MEDIA_TYPE_MANIFEST as OCI_MANIFEST
from goship.image.registry import (
    Registry,
    descriptor_of,
    digest_of,
    fallback_tag,
)
from tests.integration.registryserver import Fault, FaultProxy, RunningRegistry, require

pytestmark = pytest.mark.integration

EMPTY = b"{}"
EMPTY_DESCRIPTOR = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest_of(EMPTY), "size": 2}
NOW = 1_800_000_000.0


def client(reg: RunningRegistry | str, *, credentials: Credentials | None = None, **kw: object) -> Registry:
    host = reg if isinstance(reg, str) else reg.host
    return Registry(host, insecure=True, credentials=credentials, **kw)  # type: ignore[arg-type]


def logged_in(reg: RunningRegistry, **kw: object) -> Registry:
    return client(reg, credentials=Credentials(reg.username, reg.password, source="test"), **kw)


def new_repo(prefix: str = "team") -> str:
    return f"{prefix}/orders-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Pushed:
    repo: str
    digest: str
    body: bytes
    layer: bytes


def minimal_image(text: str = "hello") -> tuple[bytes, bytes, bytes]:
    """(layer .tar.gz, config JSON, manifest JSON) of a one-file linux/amd64 image."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(text), 0
        tar.addfile(info, io.BytesIO(text.encode()))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [digest_of(raw.getvalue())]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest_of(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest_of(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    return layer, config, manifest


def push_image(reg: Registry, repo: str, *tags: str, text: str = "hello") -> Pushed:
    layer, config, manifest = minimal_image(text)
    for blob in (layer, config):
        if reg.blob_exists(repo, digest_of(blob)) is None:
            reg.upload_blob(repo, blob, digest_of(blob))
    digest = reg.put_manifest(repo, digest_of(manifest), manifest, OCI_MANIFEST)
    for tag in tags:
        assert reg.put_manifest(repo, tag, manifest, OCI_MANIFEST) == digest
    return Pushed(repo, digest, manifest, layer)


def artifact(reg: Registry, subject: Pushed, artifact_type: str, payload: bytes) -> bytes:
    """Upload the blobs of an artifact manifest about ``subject`` and return the manifest body."""
    for blob in (EMPTY, payload):
        reg.upload_blob(subject.repo, blob, digest_of(blob))
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": EMPTY_DESCRIPTOR,
            "layers": [{"mediaType": artifact_type, "digest": digest_of(payload), "size": len(payload)}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": len(subject.body)},
            "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
        }
    ).encode()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def proxy(registry: RunningRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(registry.host) as p:
        yield p


def via(proxy: FaultProxy, sleeps: list[float], **kw: object) -> Registry:
    return client(proxy.host, sleep=sleeps.append, clock=lambda: NOW, **kw)


# ----------------------------------------------------------------------------- push and pull


def test_ping_answers_on_a_plain_registry(registry: RunningRegistry) -> None:
    client(registry).ping()


def test_blob_head_says_missing_before_the_upload_and_gives_the_size_after(registry: RunningRegistry) -> None:
    reg, repo, data = client(registry), new_repo(), b"a monolithic blob"
    assert reg.blob_exists(repo, digest_of(data)) is None
    reg.upload_blob(repo, data, digest_of(data))
    assert reg.blob_exists(repo, digest_of(data)) == len(data)
    assert reg.get_blob(repo, digest_of(data)) == data


def test_chunked_upload_of_a_file_arrives_whole(registry: RunningRegistry, tmp_path: Path) -> None:
    reg, repo = client(registry), new_repo()
    path = tmp_path / "layer.bin"
    path.write_bytes(bytes(range(256)) * 41)  # 10496 bytes: the last chunk is short
    digest = digest_of(path.read_bytes())
    reg.upload_blob(repo, path, digest, chunk_size=4096)
    assert reg.get_blob(repo, digest) == path.read_bytes()


def test_monolithic_upload_of_a_file(registry: RunningRegistry, tmp_path: Path) -> None:
    reg, repo = client(registry), new_repo()
    path = tmp_path / "config.json"
    path.write_bytes(b'{"os":"linux"}')
    reg.upload_blob(repo, path, digest_of(path.read_bytes()))
    assert reg.blob_exists(repo, digest_of(path.read_bytes())) == path.stat().st_size


def test_a_blob_whose_bytes_do_not_match_its_digest_is_refused(registry: RunningRegistry) -> None:
    reg, repo = client(registry), new_repo()
    with pytest.raises(
        RegistryError, match=rf"refused the upload of {digest_of(b'b')} to {repo}: DIGEST_INVALID"
    ):
        reg.upload_blob(repo, b"a", digest_of(b"b"))


def test_cross_repository_mount_needs_no_upload(registry: RunningRegistry) -> None:
    reg, source, target, data = client(registry), new_repo("base"), new_repo("team"), b"shared layer"
    reg.upload_blob(source, data, digest_of(data))
    assert reg.mount_blob(target, digest_of(data), source) is True
    assert reg.blob_exists(target, digest_of(data)) == len(data)


def test_a_declined_mount_leaves_an_upload_session_that_the_upload_uses(
    proxy: FaultProxy, sleeps: list[float]
) -> None:
    reg, target, data = via(proxy, sleeps), new_repo(), b"not in the source repository"
    assert reg.mount_blob(target, digest_of(data), new_repo("elsewhere")) is False
    reg.upload_blob(target, data, digest_of(data))
    assert [(s.method, s.status) for s in proxy.seen] == [("POST", 202), ("PUT", 201)]
    assert reg.blob_exists(target, digest_of(data)) == len(data)


def test_manifest_by_digest_then_tags_get_and_head(registry: RunningRegistry) -> None:
    reg, repo = client(registry), new_repo()
    pushed = push_image(reg, repo, "v1.3.0", "v1.3")
    got = reg.get_manifest(repo, "v1.3.0")
    assert got is not None
    assert (got.body, got.media_type, got.digest) == (pushed.body, OCI_MANIFEST, pushed.digest)
    assert reg.get_manifest(repo, pushed.digest) == got
    assert reg.head_manifest(repo, "v1.3") == (pushed.digest, OCI_MANIFEST)
    assert reg.get_manifest(repo, "v9.9.9") is None
    assert reg.head_manifest(repo, "v9.9.9") is None
    assert sorted(reg.list_tags(repo)) == ["v1.3", "v1.3.0"]


def test_a_manifest_outside_the_accepted_types_is_an_error_not_a_missing_one(
    registry: RunningRegistry,
) -> None:
    reg, repo = client(registry), new_repo()
    push_image(reg, repo, "v1")
    # distribution 2.8 answers 404 MANIFEST_UNKNOWN here; goship must not read that as "no such tag".
    with pytest.raises(RegistryError, match=re.escape(f"has the manifest {repo}:v1 but not as {OCI_INDEX}")):
        reg.get_manifest(repo, "v1", accept=[OCI_INDEX])


def test_a_manifest_naming_a_missing_blob_is_refused_with_the_registry_code(
    registry: RunningRegistry,
) -> None:
    reg, repo = client(registry), new_repo()
    _, _, manifest = minimal_image("never uploaded")
    with pytest.raises(RegistryError) as caught:
        reg.put_manifest(repo, "v1.3.0", manifest, OCI_MANIFEST)
    assert caught.value.message.startswith(
        f"registry {registry.host} refused the manifest for {repo}:v1.3.0: MANIFEST_BLOB_UNKNOWN: "
    )
    assert caught.value.hint == "push every blob (layers and config) before the manifest that names them"
    assert caught.value.exit_code == 4


def test_an_invalid_manifest_is_refused_as_manifest_invalid(registry: RunningRegistry) -> None:
    reg, repo = client(registry), new_repo()
    with pytest.raises(RegistryError, match=rf"refused the manifest for {repo}:v1: MANIFEST_INVALID"):
        reg.put_manifest(repo, "v1", b'{"schemaVersion": "two"}', OCI_MANIFEST)


def test_tag_list_returns_every_tag_beyond_the_page_size(registry: RunningRegistry) -> None:
    reg, repo = client(registry), new_repo()
    pushed = push_image(reg, repo)
    tags = [f"v1.0.{n}" for n in range(8)]
    for tag in tags:
        reg.put_manifest(repo, tag, pushed.body, OCI_MANIFEST)
    # distribution 2.8 ignores n= for tags and answers everything at once (in storage order).
    assert sorted(reg.list_tags(repo, page_size=3)) == tags
    assert reg.list_tags(new_repo("never-pushed")) == []


def test_catalog_pages_are_followed_through_link_headers(proxy: FaultProxy, sleeps: list[float]) -> None:
    reg = via(proxy, sleeps)
    prefix = f"cat{uuid.uuid4().hex[:6]}"
    repos = sorted(f"{prefix}/r{n}" for n in range(5))
    for repo in repos:
        reg.upload_blob(repo, b"x", digest_of(b"x"))
    listed = reg.list_repositories(page_size=2)
    assert [r for r in listed if r.startswith(prefix)] == repos
    assert len([s for s in proxy.seen if "/_catalog" in s.path]) >= 3


def test_skopeo_reads_the_pushed_image(registry: RunningRegistry, tmp_path: Path) -> None:
    reg, repo = client(registry), new_repo()
    pushed = push_image(reg, repo, "v1.3.0")
    done = subprocess.run(
        [require("skopeo"), "inspect", "--tls-verify=false", f"docker://{registry.host}/{repo}:v1.3.0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert (seen["Digest"], seen["Architecture"], seen["Os"]) == (pushed.digest, "amd64", "linux")
    assert seen["Layers"] == [digest_of(pushed.layer)]


# ----------------------------------------------------------------------------- referrers


def test_referrers_fall_back_to_the_tag_schema_index_on_a_registry_without_the_api(
    registry: RunningRegistry,
) -> None:
    reg, repo = client(registry), new_repo()
    image = push_image(reg, repo, "v1.3.0")
    assert reg.referrers(repo, image.digest) == []

    sbom = artifact(reg, image, "application/spdx+json", b'{"spdxVersion":"SPDX-2.3"}')
    sbom_digest = reg.put_referrer(repo, sbom, OCI_MANIFEST)
    signature = artifact(reg, image, "application/vnd.example.signature", b"signed")
    reg.put_referrer(repo, signature, OCI_MANIFEST)

    index = reg.get_manifest(repo, fallback_tag(image.digest), accept=[OCI_INDEX])
    assert index is not None and index.media_type == OCI_INDEX
    assert fallback_tag(image.digest) == "sha256-" + image.digest.removeprefix("sha256:")
    listed = json.loads(index.body)
    assert listed["schemaVersion"] == 2 and listed["mediaType"] == OCI_INDEX
    assert listed["manifests"] == [descriptor_of(sbom, OCI_MANIFEST), descriptor_of(signature, OCI_MANIFEST)]
    assert listed["manifests"][0] == {
        "mediaType": OCI_MANIFEST,
        "digest": sbom_digest,
        "size": len(sbom),
        "artifactType": "application/spdx+json",
        "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
    }
    assert reg.referrers(repo, image.digest) == listed["manifests"]
    assert reg.referrers(repo, image.digest, "application/spdx+json") == [listed["manifests"][0]]
    # Adding a referrer that is already listed leaves the index as it was.
    again = reg.add_referrer_fallback(repo, image.digest, descriptor_of(sbom, OCI_MANIFEST))
    assert again == index.digest


def test_the_fallback_tag_must_hold_an_index(registry: RunningRegistry) -> None:
    reg, repo = client(registry), new_repo()
    image = push_image(reg, repo)
    reg.put_manifest(repo, fallback_tag(image.digest), image.body, OCI_MANIFEST)
    with pytest.raises(RegistryError, match="expected the OCI index of the referrers tag schema"):
        reg.add_referrer_fallback(repo, image.digest, descriptor_of(image.body, OCI_MANIFEST))


# ----------------------------------------------------------------------------- Basic auth


def test_basic_auth_with_the_right_credentials_pushes_and_pulls(basic_registry: RunningRegistry) -> None:
    reg, repo = logged_in(basic_registry), new_repo()
    reg.ping()
    pushed = push_image(reg, repo, "v1")
    assert reg.head_manifest(repo, "v1") == (pushed.digest, OCI_MANIFEST)


def test_basic_auth_with_a_wrong_password_names_the_registry_never_the_password(
    basic_registry: RunningRegistry,
) -> None:
    wrong = "not-the-Pa55word-at-all"
    reg = client(basic_registry, credentials=Credentials(basic_registry.username, wrong, source="test"))
    with pytest.raises(RegistryError) as caught:
        reg.ping()
    error = caught.value
    assert error.message.startswith(
        f"registry {basic_registry.host} refused the API version check (GET /v2/) (as user 'ada'): UNAUTHORIZED"
    )
    assert error.hint == f"check the credentials for {basic_registry.host} (test)"
    shown = f"{error} {error.hint} {error!r} {reg!r} {error.__cause__!r}"
    assert wrong not in shown and basic_registry.password not in shown


def test_basic_auth_without_credentials_says_how_to_log_in(basic_registry: RunningRegistry) -> None:
    with pytest.raises(RegistryError) as caught:
        client(basic_registry).blob_exists(new_repo(), digest_of(b"x"))
    assert "refused the blob check for team/orders-" in caught.value.message
    assert "(without credentials)" in caught.value.message
    assert f"docker login {basic_registry.host}" in (caught.value.hint or "")


# ----------------------------------------------------------------------------- token auth


def test_bearer_tokens_are_fetched_per_scope_and_widened_for_push(token_registry: RunningRegistry) -> None:
    server = token_registry.token_server
    assert server is not None
    reg, repo, data = logged_in(token_registry), new_repo(), b"token-auth blob"
    before = len(server.requests)
    reg.ping()
    assert reg.blob_exists(repo, digest_of(data)) is None
    assert reg.blob_exists(repo, digest_of(b"other")) is None  # the cached pull token serves again
    reg.upload_blob(repo, data, digest_of(data))
    assert reg.blob_exists(repo, digest_of(data)) == len(data)  # a push token covers pull too
    asked = [(r.user, r.scopes) for r in server.requests[before:]]
    assert asked == [
        ("ada", ()),
        ("ada", (f"repository:{repo}:pull",)),
        ("ada", (f"repository:{repo}:pull,push",)),
    ]


def test_bearer_mount_asks_for_both_repositories_in_one_token(token_registry: RunningRegistry) -> None:
    server = token_registry.token_server
    assert server is not None
    reg, source, target, data = logged_in(token_registry), new_repo("base"), new_repo(), b"mounted via token"
    reg.upload_blob(source, data, digest_of(data))
    assert reg.mount_blob(target, digest_of(data), source) is True
    assert server.requests[-1].scopes == (f"repository:{target}:pull,push", f"repository:{source}:pull")


def test_an_expired_token_is_fetched_again(token_registry: RunningRegistry) -> None:
    server = token_registry.token_server
    assert server is not None
    now = [NOW]
    reg, repo = logged_in(token_registry, clock=lambda: now[0]), new_repo()
    reg.blob_exists(repo, digest_of(b"x"))
    count = len(server.requests)
    reg.blob_exists(repo, digest_of(b"x"))
    assert len(server.requests) == count
    now[0] += 3600
    reg.blob_exists(repo, digest_of(b"x"))
    assert len(server.requests) == count + 1


@pytest.mark.parametrize("field", ["token", "access_token"])
def test_either_token_field_of_the_answer_is_used(token_registry: RunningRegistry, field: str) -> None:
    server = token_registry.token_server
    assert server is not None
    server.field = field  # type: ignore[assignment]
    try:
        reg, repo = logged_in(token_registry), new_repo()
        push_image(reg, repo, "v1")
        assert reg.list_tags(repo) == ["v1"]
    finally:
        server.field = "both"


def test_an_identity_token_is_traded_with_the_refresh_token_grant(token_registry: RunningRegistry) -> None:
    server = token_registry.token_server
    assert server is not None
    reg, repo = client(token_registry, credentials=Credentials(identity_token="refresh-ada")), new_repo()
    reg.upload_blob(repo, b"x", digest_of(b"x"))
    assert (server.requests[-1].grant, server.requests[-1].user) == ("refresh_token", "ada")


def test_anonymous_callers_may_pull_but_not_push(token_registry: RunningRegistry) -> None:
    repo = new_repo()
    pushed = push_image(logged_in(token_registry), repo, "v1")
    anonymous = client(token_registry)
    assert anonymous.head_manifest(repo, "v1") == (pushed.digest, OCI_MANIFEST)
    with pytest.raises(RegistryError) as caught:
        anonymous.upload_blob(repo, b"y", digest_of(b"y"))
    assert caught.value.message.startswith(
        f"registry {token_registry.host} refused the upload of {digest_of(b'y')} to {repo} "
        "(without credentials): UNAUTHORIZED"
    )


def test_a_wrong_password_at_the_token_server_is_a_clear_error(token_registry: RunningRegistry) -> None:
    wrong = "wrong-token-Pa55word"
    reg = client(token_registry, credentials=Credentials(token_registry.username, wrong))
    with pytest.raises(RegistryError) as caught:
        reg.ping()
    assert caught.value.message == (
        f"the token server 127.0.0.1 for registry {token_registry.host} refused a token for registry access "
        "(as user 'ada'): HTTP 401"
    )
    assert wrong not in f"{caught.value} {caught.value.hint} {caught.value!r}"


# ----------------------------------------------------------------------------- retries


def test_a_500_is_retried_after_a_backoff(proxy: FaultProxy, sleeps: list[float]) -> None:
    reg, repo = via(proxy, sleeps), new_repo()
    pushed = push_image(reg, repo, "v1")
    proxy.faults.append(Fault("GET", "/manifests/v1", nth=1, action="status", status=500))
    assert reg.get_manifest(repo, "v1") is not None
    assert sleeps == [0.5]
    assert [s.status for s in proxy.seen if s.path.endswith("/manifests/v1")][-2:] == [500, 200]
    assert pushed.digest


def test_retry_after_in_seconds_is_honoured(proxy: FaultProxy, sleeps: list[float]) -> None:
    reg, repo = via(proxy, sleeps), new_repo()
    proxy.faults.append(
        Fault("HEAD", "/blobs/", nth=1, action="status", status=429, headers={"Retry-After": "7"})
    )
    assert reg.blob_exists(repo, digest_of(b"x")) is None
    assert sleeps == [7.0]


def test_retry_after_as_an_http_date_is_honoured(proxy: FaultProxy, sleeps: list[float]) -> None:
    reg, repo = via(proxy, sleeps), new_repo()
    when = email.utils.formatdate(NOW + 4, usegmt=True)
    proxy.faults.append(
        Fault("HEAD", "/blobs/", nth=1, action="status", status=503, headers={"Retry-After": when})
    )
    assert reg.blob_exists(repo, digest_of(b"x")) is None
    assert sleeps == [4.0]


def test_exhausted_retries_are_a_clear_error(proxy: FaultProxy, sleeps: list[float]) -> None:
    reg, repo = via(proxy, sleeps, retry=Backoff(attempts=3, base_delay=0.25)), new_repo()
    proxy.faults += [Fault("GET", "/tags/list", nth=n, action="status", status=502) for n in (1, 2, 3)]
    with pytest.raises(RegistryError) as caught:
        reg.list_tags(repo)
    assert caught.value.message == (
        f"registry {proxy.host} kept failing the tag list of {repo}: GET /v2/{repo}/tags/list: "
        "HTTP 502 (UNAVAILABLE: injected) (gave up after 3 attempts)"
    )
    assert sleeps == [0.25, 0.5]


def test_a_connection_dropped_mid_chunk_asks_where_the_upload_stands_and_recovers(
    proxy: FaultProxy, sleeps: list[float]
) -> None:
    reg, repo = via(proxy, sleeps), new_repo()
    data = bytes(range(256)) * 256  # 64 KiB in four chunks
    proxy.faults.append(Fault("PATCH", "/blobs/uploads/", nth=2, action="drop"))
    reg.upload_blob(repo, data, digest_of(data), chunk_size=16384)
    assert reg.get_blob(repo, digest_of(data)) == data
    # distribution 2.8 keeps the half chunk it read, then refuses the session whose _state names the
    # old offset (404 BLOB_UPLOAD_INVALID), so goship starts a fresh session rather than resuming.
    assert [(s.method, s.status) for s in proxy.seen if "/blobs/uploads/" in s.path] == [
        ("POST", 202),
        ("PATCH", 202),
        ("PATCH", None),
        ("GET", 404),
        ("POST", 202),
        *[("PATCH", 202)] * 4,
        ("PUT", 201),
    ]
    assert sleeps == [0.5]


def test_a_connection_dropped_mid_monolithic_upload_starts_again(
    proxy: FaultProxy, sleeps: list[float]
) -> None:
    reg, repo = via(proxy, sleeps), new_repo()
    data = b"monolithic " * 4000
    proxy.faults.append(Fault("PUT", "/blobs/uploads/", nth=1, action="drop"))
    reg.upload_blob(repo, data, digest_of(data))
    assert reg.get_blob(repo, digest_of(data)) == data
    assert [s.method for s in proxy.seen if s.method in ("POST", "PUT")] == ["POST", "PUT", "POST", "PUT"]


# ----------------------------------------------------------------------------- transport rules


def test_plain_http_is_refused_for_a_host_that_is_not_this_machine() -> None:
    with pytest.raises(RegistryError, match=r"refusing plain http to registry\.example\.com:5000"):
        Registry("registry.example.com:5000", insecure=True)


@pytest.mark.parametrize("host", ["localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"])
def test_plain_http_is_allowed_for_loopback_hosts(host: str) -> None:
    Registry(host, insecure=True).close()


def test_a_proxy_goship_cannot_speak_to_is_a_clear_error_not_a_retry(sleeps: list[float]) -> None:
    with (
        Client(env={"HTTPS_PROXY": "socks5://proxy.example.com:1080"}) as http,
        pytest.raises(RegistryError) as caught,
    ):
        Registry("registry.example.com", client=http, sleep=sleeps.append).ping()
    assert caught.value.message == (
        "cannot reach registry registry.example.com: HTTPS_PROXY names the proxy socks5://proxy.example.com:1080, "
        "expected http://host:port (an HTTP proxy)"
    )
    assert (
        caught.value.hint
        == "check HTTPS_PROXY, HTTP_PROXY and NO_PROXY (loopback hosts never go through a proxy)"
    )
    assert sleeps == []
