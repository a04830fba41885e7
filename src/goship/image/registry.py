"""A client for one OCI registry host, speaking the OCI distribution spec v1.1: blob and manifest push
and pull, cross-repository mounts, tag listing, and content discovery through the referrers API or,
where a registry lacks it, the spec's tag-schema fallback (``sha256-<hex>`` tags holding an index).

Every request is retried with exponential backoff on 429, 5xx and connection errors, honouring
``Retry-After``; the registry's error JSON becomes a :class:`RegistryError` that names the registry,
the repository and what was refused. Plain ``http://`` is only spoken to this machine (loopback).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin

from goship import _http
from goship._backoff import Backoff
from goship.errors import RegistryError
from goship.image._transport import (
    REGISTRY_BACKOFF,
    RegistryTransport,
    _error_json,
    _json_or_empty,
    _Transient,
)
from goship.image.auth import Authenticator, Credentials, is_loopback, scope
from goship.image.oci import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST

__all__ = [
    "MANIFEST_TYPES",
    "Registry",
    "ServedManifest",
    "descriptor_of",
    "digest_of",
    "fallback_tag",
]

MANIFEST_TYPES = (MEDIA_TYPE_MANIFEST, MEDIA_TYPE_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)
"""What goship accepts when it asks for a manifest without saying which kind."""

_DIGEST = re.compile(r"(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})")


@dataclass(frozen=True)
class ServedManifest:
    """A manifest as the registry served it."""

    body: bytes
    """The exact bytes; the digest is over these."""
    media_type: str
    """Its media type (the response's ``Content-Type``, else the body's ``mediaType``)."""
    digest: str
    """``sha256:<hex>`` of ``body``, checked against what was asked for and what the registry said."""


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    """``<algorithm>:<hex>`` of ``data``."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def fallback_tag(digest: str) -> str:
    """The referrers tag-schema tag for a subject: ``sha256:ab…`` → ``sha256-ab…``."""
    return digest.replace(":", "-", 1)


def _check_digest(digest: str) -> str:
    if not _DIGEST.fullmatch(digest):
        raise ValueError(f"expected a digest like sha256:<64 hex>, got {digest!r}")
    return digest


class Registry:
    """One registry host (``ghcr.io``, ``localhost:5000``) and the credentials goship uses there."""

    def __init__(
        self,
        host: str,
        *,
        credentials: Credentials | None = None,
        insecure: bool = False,
        client: _http.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        retry: Backoff | None = None,
    ) -> None:
        if "/" in host or not host:
            raise RegistryError(f"expected a registry host like ghcr.io or localhost:5000, got {host!r}")
        if insecure and not is_loopback(host):
            raise RegistryError(
                f"refusing plain http to {host}: insecure registries must be on this machine "
                "(127.0.0.0/8, ::1 or localhost)",
                hint="use https for remote registries; 'insecure' exists for local test registries",
            )
        self.host = host
        self._owns_client = client is None
        self._client = client if client is not None else _http.Client(timeout=60.0, connect_timeout=10.0)
        self._auth = Authenticator(host, credentials, client=self._client, clock=clock)
        self._transport = RegistryTransport(
            host,
            f"{'http' if insecure else 'https'}://{host}",
            client=self._client,
            auth=self._auth,
            sleep=sleep,
            clock=clock,
            retry=retry or REGISTRY_BACKOFF,
        )
        self._sessions: dict[tuple[str, str], str] = {}
        """Upload sessions a refused mount opened, reused by the next upload of that blob."""

    def __repr__(self) -> str:
        return f"Registry({self.host!r}, credentials={self._auth.credentials!r})"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- the API

    def ping(self) -> None:
        """Check that the host speaks distribution v2 and accepts goship's credentials (``GET /v2/``)."""
        response = self._transport.request("GET", "/v2/", scopes=(), what="the API version check (GET /v2/)")
        if response.status_code != 200:
            raise self._transport.refused(response, "the API version check (GET /v2/)")

    def blob_exists(self, repo: str, digest: str) -> int | None:
        """The size of blob ``digest`` in ``repo``, or ``None`` when the registry does not have it."""
        what = f"the blob check for {repo}@{_check_digest(digest)}"
        response = self._transport.request(
            "HEAD", f"/v2/{repo}/blobs/{digest}", scopes=_pull(repo), what=what
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._transport.refused(response, what)
        return int(response.headers.get("content-length", "0"))

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Mount blob ``digest`` from ``from_repo`` into ``repo`` without uploading it; ``False`` when the
        registry declined (it then opened an upload session, which the next :meth:`upload_blob` uses)."""
        what = f"mounting {digest} from {from_repo} into {repo}"
        response = self._transport.request(
            "POST",
            f"/v2/{repo}/blobs/uploads/",
            params={"mount": _check_digest(digest), "from": from_repo},
            scopes=(*_push(repo), scope(from_repo, "pull")),
            what=what,
        )
        if response.status_code == 201:
            self._transport.check_echo(response, digest, what)
            return True
        if response.status_code == 202:
            self._sessions[(repo, digest)] = self._transport.location(response, what)
            return False
        raise self._transport.refused(response, what)

    def upload_blob(
        self, repo: str, data: bytes | Path, digest: str, *, chunk_size: int | None = None
    ) -> None:
        """Upload a blob: one ``PUT`` (monolithic) or, with ``chunk_size``, ``PATCH`` chunks with
        ``Content-Range`` and a closing ``PUT``. After a broken try a chunked upload asks the registry
        how much it kept and goes on from there (registries that cannot say, like distribution 2.8
        after a dropped connection, get a fresh session); a monolithic one starts again."""
        what = f"the upload of {_check_digest(digest)} to {repo}"
        if chunk_size is not None and chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        size = len(data) if isinstance(data, bytes) else data.stat().st_size
        upload = _Upload(self._sessions.pop((repo, digest), None))

        def attempt() -> None:
            if upload.session is None:
                upload.session, upload.offset = self._start_upload(repo, what), 0
            elif upload.broken:
                self._resume(upload, repo, what)
            upload.broken = False
            try:
                if chunk_size is None:
                    self._finish_upload(
                        repo, upload.session, digest, what, lambda: _read(data, 0, size), size
                    )
                    return
                while upload.offset < size:
                    length = min(chunk_size, size - upload.offset)
                    upload.session = self._patch(repo, upload.session, data, upload.offset, length, what)
                    upload.offset += length
                self._finish_upload(repo, upload.session, digest, what, lambda: b"", 0)
            except _Transient:
                # A monolithic upload cannot be resumed; a chunked one asks where it stopped.
                upload.broken = True
                if chunk_size is None:
                    upload.session = None
                raise

        self._transport.with_retries(attempt, what)

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        """Store a manifest under ``reference`` (its digest first, then each tag in its own call);
        returns its digest."""
        return self._put_manifest(repo, reference, body, media_type)[0]

    def put_referrer(self, repo: str, body: bytes, media_type: str) -> str:
        """Push a manifest with a ``subject`` by digest and make it discoverable: a registry without the
        referrers API (no ``OCI-Subject`` in its answer) gets the subject's fallback index updated."""
        manifest = _json_or_empty(body)
        digest, subject_echoed = self._put_manifest(repo, digest_of(body), body, media_type)
        subject = manifest.get("subject") or {}
        if subject.get("digest") and not subject_echoed:
            self.add_referrer_fallback(repo, subject["digest"], descriptor_of(body, media_type))
        return digest

    def get_manifest(
        self, repo: str, reference: str, accept: Sequence[str] = MANIFEST_TYPES
    ) -> ServedManifest | None:
        """The manifest ``reference`` (tag or digest) names, or ``None`` when there is none."""
        what = f"the manifest {_ref(repo, reference)}"
        response = self._transport.request(
            "GET",
            f"/v2/{repo}/manifests/{reference}",
            scopes=_pull(repo),
            headers={"Accept": ", ".join(accept)},
            what=what,
        )
        if response.status_code == 404:
            errors = _error_json(response)
            # distribution 2.8 answers 404 when the manifest exists in a type outside Accept.
            if any("accept header" in e for e in errors):
                raise RegistryError(
                    f"registry {self.host} has {what} but not as {' or '.join(accept)}: {'; '.join(errors)}"
                )
            return None
        if response.status_code != 200:
            raise self._transport.refused(response, what)
        body = response.content
        expected = (
            reference if _DIGEST.fullmatch(reference) else response.headers.get("docker-content-digest")
        )
        digest = digest_of(body, (expected or "sha256").split(":")[0])
        if expected and expected != digest:
            raise RegistryError(
                f"registry {self.host} served {what} with digest {digest}, expected {expected}",
                hint="the registry or something between it and goship altered the manifest",
            )
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if media_type not in MANIFEST_TYPES:
            media_type = str(_json_or_empty(body).get("mediaType") or media_type)
        return ServedManifest(body, media_type, digest)

    def head_manifest(self, repo: str, reference: str) -> tuple[str, str] | None:
        """``(digest, media type)`` of the manifest ``reference`` names, or ``None`` when there is none."""
        what = f"the manifest check for {_ref(repo, reference)}"
        response = self._transport.request(
            "HEAD",
            f"/v2/{repo}/manifests/{reference}",
            scopes=_pull(repo),
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
            what=what,
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._transport.refused(response, what)
        digest = response.headers.get("docker-content-digest")
        if not digest:
            # The header is optional in the spec; the body always tells.
            manifest = self.get_manifest(repo, reference)
            return (manifest.digest, manifest.media_type) if manifest else None
        return digest, response.headers.get("content-type", "").split(";")[0].strip()

    def get_blob(self, repo: str, digest: str) -> bytes:
        """The blob's bytes, checked against ``digest`` (registries may redirect to storage)."""
        what = f"the blob {repo}@{_check_digest(digest)}"
        response = self._transport.request(
            "GET", f"/v2/{repo}/blobs/{digest}", scopes=_pull(repo), what=what, follow_redirects=True
        )
        if response.status_code != 200:
            raise self._transport.refused(response, what)
        got = digest_of(response.content, digest.split(":")[0])
        if got != digest:
            raise RegistryError(f"registry {self.host} served {what} with digest {got}, expected {digest}")
        return response.content

    def list_tags(self, repo: str, *, page_size: int | None = None) -> list[str]:
        """Every tag of ``repo`` (none for an unknown repository), following ``Link`` pages."""
        what = f"the tag list of {repo}"
        params = {"n": str(page_size)} if page_size else None
        pages = self._pages(f"/v2/{repo}/tags/list", params, _pull(repo), what, on_404="empty")
        return [str(t) for page in pages for t in (page.get("tags") or [])]

    def list_repositories(self, *, page_size: int | None = None) -> list[str]:
        """Every repository the registry lists in its catalog (``/v2/_catalog``), following ``Link`` pages."""
        params = {"n": str(page_size)} if page_size else None
        pages = self._pages("/v2/_catalog", params, ("registry:catalog:*",), "the repository catalog")
        return [str(r) for page in pages for r in (page.get("repositories") or [])]

    def referrers(self, repo: str, digest: str, artifact_type: str | None = None) -> list[dict[str, Any]]:
        """Descriptors of the manifests whose ``subject`` is ``digest``: the referrers API, or the
        ``sha256-<hex>`` fallback index when the registry answers 404 for the API."""
        what = f"the referrers of {repo}@{_check_digest(digest)}"
        params = {"artifactType": artifact_type} if artifact_type else None
        try:
            found = [
                dict(d)
                for page in self._pages(
                    f"/v2/{repo}/referrers/{digest}", params, _pull(repo), what, on_404="no-referrers-api"
                )
                for d in page.get("manifests") or []
            ]
        except _NoReferrersApi:
            index = self.get_manifest(repo, fallback_tag(digest))
            found = []
            if index is not None and index.media_type == MEDIA_TYPE_INDEX:
                found = [dict(d) for d in _json_or_empty(index.body).get("manifests") or []]
        # Filtering here too is harmless when the registry already did (OCI-Filters-Applied).
        return [d for d in found if artifact_type is None or d.get("artifactType") == artifact_type]

    def add_referrer_fallback(self, repo: str, subject_digest: str, descriptor: Mapping[str, Any]) -> str:
        """Add ``descriptor`` to the subject's ``sha256-<hex>`` fallback index (read, modify, write);
        returns the index digest. Adding a descriptor that is already there changes nothing."""
        tag = fallback_tag(_check_digest(subject_digest))
        # Asked for in any type: a tag holding something else must be noticed, not overwritten.
        current = self.get_manifest(repo, tag)
        index: dict[str, Any] = {"schemaVersion": 2, "mediaType": MEDIA_TYPE_INDEX, "manifests": []}
        if current is not None:
            index = _json_or_empty(current.body)
            if current.media_type != MEDIA_TYPE_INDEX or not isinstance(index.get("manifests", []), list):
                raise RegistryError(
                    f"the tag {repo}:{tag} holds a {current.media_type or 'manifest'}, expected the OCI index "
                    "of the referrers tag schema",
                    hint=f"that tag is reserved for referrers of {subject_digest}; move what it holds elsewhere",
                )
            if any(m.get("digest") == descriptor["digest"] for m in index.get("manifests", [])):
                return current.digest
        index["manifests"] = [*index.get("manifests", []), dict(descriptor)]
        return self.put_manifest(
            repo, tag, json.dumps(index, separators=(",", ":")).encode(), MEDIA_TYPE_INDEX
        )

    # ----------------------------------------------------------------- pieces

    def _put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> tuple[str, bool]:
        digest = digest_of(body)
        if _DIGEST.fullmatch(reference) and reference != digest:
            raise ValueError(f"the manifest's digest is {digest}, not the reference {reference}")
        what = f"the manifest for {_ref(repo, reference)}"
        response = self._transport.request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            scopes=_push(repo),
            headers={"Content-Type": media_type},
            content=lambda: body,
            what=what,
        )
        if response.status_code not in (200, 201):
            raise self._transport.refused(response, what)
        self._transport.check_echo(response, digest, what)
        return digest, "oci-subject" in response.headers

    def _start_upload(self, repo: str, what: str) -> str:
        response = self._transport.once(
            "POST", self._transport.url(f"/v2/{repo}/blobs/uploads/"), scopes=_push(repo)
        )
        if response.status_code != 202:
            raise self._transport.refused(response, what)
        return self._transport.location(response, what)

    def _patch(self, repo: str, session: str, data: bytes | Path, start: int, length: int, what: str) -> str:
        chunk = b"".join(_read(data, start, length))
        response = self._transport.once(
            "PATCH",
            session,
            scopes=_push(repo),
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{start}-{start + length - 1}",
                "Content-Length": str(length),
            },
            content=lambda: chunk,
        )
        if response.status_code != 202:
            raise self._transport.refused(response, what)
        return self._transport.location(response, what)

    def _finish_upload(
        self,
        repo: str,
        session: str,
        digest: str,
        what: str,
        body: Callable[[], _http.Content],
        length: int,
    ) -> None:
        response = self._transport.once(
            "PUT",
            _http.merge_params(session, {"digest": digest}),
            scopes=_push(repo),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(length)},
            content=body,
        )
        if response.status_code != 201:
            raise self._transport.refused(response, what)
        self._transport.check_echo(response, digest, what)

    def _resume(self, upload: _Upload, repo: str, what: str) -> None:
        assert upload.session is not None
        response = self._transport.once("GET", upload.session, scopes=_push(repo))
        end = re.fullmatch(r"(?:bytes=)?0-(\d+)", response.headers.get("range", ""))
        # "0-0" means one byte or none (registries differ), so that case starts afresh like a lost session.
        if response.status_code != 204 or end is None or end.group(1) == "0":
            upload.session, upload.offset = self._start_upload(repo, what), 0
            return
        upload.session, upload.offset = self._transport.location(response, what), int(end.group(1)) + 1

    def _pages(
        self,
        path: str,
        params: Mapping[str, str] | None,
        scopes: Sequence[str],
        what: str,
        *,
        on_404: Literal["error", "empty", "no-referrers-api"] = "error",
    ) -> Iterator[dict[str, Any]]:
        url = _http.merge_params(self._transport.url(path), params or {})
        seen: set[str] = set()
        while url not in seen:
            seen.add(url)
            response = self._transport.request(
                "GET", url, scopes=scopes, what=what, headers={"Accept": MEDIA_TYPE_INDEX}
            )
            if response.status_code == 404 and on_404 == "no-referrers-api":
                raise _NoReferrersApi()
            if response.status_code == 404 and on_404 == "empty":
                return
            if response.status_code != 200:
                raise self._transport.refused(response, what)
            yield _json_or_empty(response.content)
            link = response.links.get("next")
            if not link:
                return
            url = urljoin(url, link)


@dataclass
class _Upload:
    """Where one blob upload stands between tries."""

    session: str | None
    """The upload session's URL (it changes after every chunk); ``None`` before one is opened."""
    offset: int = 0
    """Bytes the registry has acknowledged."""
    broken: bool = False
    """Whether the last try failed part-way, so the registry must be asked where it stands."""


class _NoReferrersApi(Exception):
    """The registry answered 404 for the referrers API: it predates OCI distribution 1.1."""


def descriptor_of(body: bytes, media_type: str) -> dict[str, Any]:
    """The descriptor a referrers list holds for a manifest: media type, digest, size, artifact type
    (``artifactType``, else the config's media type) and annotations."""
    manifest = _json_or_empty(body)
    descriptor: dict[str, Any] = {"mediaType": media_type, "digest": digest_of(body), "size": len(body)}
    artifact_type = manifest.get("artifactType") or (manifest.get("config") or {}).get("mediaType")
    if artifact_type:
        descriptor["artifactType"] = artifact_type
    if manifest.get("annotations"):
        descriptor["annotations"] = manifest["annotations"]
    return descriptor


def _pull(repo: str) -> tuple[str, ...]:
    return (scope(repo, "pull"),)


def _push(repo: str) -> tuple[str, ...]:
    return (scope(repo, "pull", "push"),)


def _ref(repo: str, reference: str) -> str:
    return f"{repo}@{reference}" if ":" in reference else f"{repo}:{reference}"


def _read(data: bytes | Path, start: int, length: int) -> Iterator[bytes]:
    if isinstance(data, bytes):
        yield data[start : start + length]
        return
    with data.open("rb") as f:
        f.seek(start)
        while length > 0 and (block := f.read(min(length, 1 << 20))):
            length -= len(block)
            yield block
