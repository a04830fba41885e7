"""What goes to a cluster: one service's image by digest, with the version and commit it was built from —
read from the release record ``goship publish`` keeps (``releases/<service>/<version>.json`` beside the
store), or given as an explicit ``repository@sha256:…`` reference."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from goship.errors import UsageError

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

UNKNOWN = "unknown"
"""The version or commit of an image given by reference alone."""


@dataclass(frozen=True)
class Release:
    """One service's image, pinned by digest."""

    service: str
    repository: str
    """``registry.example.com/team/orders``."""
    digest: str
    """``sha256:`` and 64 hex digits: the image index (or manifest) as published."""
    version: str
    """``v1.4.0`` (or a pseudo-version; ``unknown`` for an image given by reference alone)."""
    commit: str
    """The full commit hash the image was built from (``unknown`` when not known)."""

    @property
    def image(self) -> str:
        """The reference a pod pulls: ``repository@sha256:…``."""
        return f"{self.repository}@{self.digest}"


def load_release(store: Path, service: str, version: str) -> Release:
    """The release of ``service`` at ``version`` as ``goship publish`` recorded it in ``store``."""
    from goship.image.publish import record_path  # the record's place is publish's to say

    path = record_path(store, service, version)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = sorted(p.stem for p in path.parent.glob("*.json"))
        found = f"published: {', '.join(known)}" if known else "nothing of it is published from this store"
        raise UsageError(
            f"no release record of {service} {version} in {store} ({found})",
            hint=f"publish it first ('goship publish' on {version}), "
            "or name the image with --image REPOSITORY@sha256:…",
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the release record {path}: {exc}") from exc
    digest = str(record.get("digest", ""))
    repository = str(record.get("repository", ""))
    if not _DIGEST.fullmatch(digest) or not repository:
        raise UsageError(
            f"the release record {path} has no repository and sha256 digest (found {digest!r})",
            hint="publish the release again ('goship publish') to rewrite its record",
        )
    return Release(
        service=service,
        repository=repository,
        digest=digest,
        version=str(record.get("version") or version),
        commit=str(record.get("commit") or UNKNOWN),
    )


def release_of_image(reference: str, *, service: str, version: str | None) -> Release:
    """A release from ``host/repository[:tag]@sha256:…``; a reference by tag alone is refused (tags move)."""
    from goship.image.pull import split_reference

    try:
        host, repository, _tag, digest = split_reference(reference.strip())
    except UsageError as exc:
        raise UsageError(
            f"--image {reference!r}: expected REGISTRY/REPOSITORY@sha256:<64 hex digits>",
            hint="goship deploys images by digest, never by a tag that can move; "
            "'goship publish --json' prints the digest",
        ) from exc
    return Release(
        service=service,
        repository=f"{host}/{repository}",
        digest=digest,
        version=version or UNKNOWN,
        commit=UNKNOWN,
    )
