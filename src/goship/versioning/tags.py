"""Which tags are releases of which module (Go's rules), and which are ignored and why."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from goship import semver
from goship.git import TagRef
from goship.modules import Module


@dataclass(frozen=True)
class Release:
    """A tag that Go would resolve as a release of a module."""

    version: str
    """The bare version, e.g. ``v1.4.0``."""
    tag: str
    commit: str


@dataclass(frozen=True)
class IgnoredTag:
    tag: str
    reason: str


@dataclass(frozen=True)
class ModuleTags:
    """A module's tags: releases (highest first) and look-alikes that are not releases."""

    releases: tuple[Release, ...]
    ignored: tuple[IgnoredTag, ...]

    def highest(
        self, *, where: Callable[[Release], bool] | None = None, final_only: bool = False
    ) -> Release | None:
        """The highest release for which ``where`` holds (asked highest first, and only as far as needed)."""
        for r in self.releases:
            if final_only and semver.prerelease(r.version):
                continue
            if where is not None and not where(r):
                continue
            return r
        return None


def classify_tags(module: Module, modules: list[Module], tags: Iterable[TagRef]) -> ModuleTags:
    """Sort the tags in ``module``'s namespace (its prefix, no further ``/``) into releases and ignored.

    Several modules may share a prefix (``v2/`` beside the root): a release belongs to the one whose
    module path matches its major version.
    """
    siblings = [m for m in modules if m.tag_prefix == module.tag_prefix]
    releases: list[Release] = []
    ignored: list[IgnoredTag] = []
    for ref in tags:
        if not ref.name.startswith(module.tag_prefix):
            continue
        version = ref.name[len(module.tag_prefix) :]
        if "/" in version:
            continue
        reason = _not_a_release(version)
        if reason is None:
            owner = next((m for m in siblings if semver.match_path_major(version, m.path_major)), None)
            if owner is None:
                reason = _major_mismatch(version, module)
            elif owner.dir != module.dir:
                continue
        if reason is None:
            releases.append(Release(version=version, tag=ref.name, commit=ref.commit))
        else:
            ignored.append(IgnoredTag(tag=ref.name, reason=reason))
    releases.sort(key=lambda r: _release_key(r.version), reverse=True)
    ignored.sort(key=lambda i: i.tag)
    return ModuleTags(releases=tuple(releases), ignored=tuple(ignored))


# The usual release tag, vX.Y.Z: canonical, without build metadata, so never pseudo-version shaped.
_FINAL_RELEASE = re.compile(r"v(?:0|[1-9][0-9]{0,30})\.(?:0|[1-9][0-9]{0,30})\.(?:0|[1-9][0-9]{0,30})")


def _not_a_release(version: str) -> str | None:
    if _FINAL_RELEASE.fullmatch(version):
        return None
    if not version.startswith("v"):
        return "not a version tag (expected v<major>.<minor>.<patch>)"
    if len(version) > 100:
        # Go would accept any length; goship refuses numbers no release ever needs (and int() cannot hold).
        return "longer than 100 characters: not treated as a release"
    if not semver.is_valid(version):
        return "not a semantic version (expected v<major>.<minor>.<patch>[-prerelease])"
    if semver.build(version):
        return f"build metadata ({semver.build(version)}) is not allowed in a Go module version"
    if semver.canonical(version) != version:
        return f"shorthand version; Go only resolves full versions like {semver.canonical(version)}"
    if semver.is_pseudo_version(version):
        return "shaped like a pseudo-version; Go does not treat it as a release"
    return None


def _major_mismatch(version: str, module: Module) -> str:
    major = semver.major(version)
    if module.path_major:
        return (
            f"major {major} does not match module path {module.path} (expected {module.path_major[1:]}.x.y)"
        )
    return f"major {major} needs module path {module.path}/{major} (go.mod has no /{major} suffix)"


def _release_key(version: str) -> tuple[int, int, int, tuple[tuple[int, int | str], ...]]:
    """A sort key that orders canonical versions as ``semver.compare`` does (SemVer §11), parsed once.

    A final release sorts above its prereleases; numeric identifiers sort numerically, below alphanumerics.
    """
    core, _, pre = version[1:].partition("-")
    major, minor, patch = (int(p) for p in core.split("."))
    if not pre:
        return (major, minor, patch, ((2, 0),))
    ids = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return (major, minor, patch, ids)
