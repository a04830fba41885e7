"""Which tags an image gets, and which existing tags may move: the exact tag never moves; ``vX.Y``,
``vX`` and ``latest`` move only to the highest version of their group, judged from the registry's
tags together with the git release tags; a prerelease gets its exact tag (and an optional channel
tag); a build of an untagged commit gets ``sha-<12 hex>`` only."""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from goship import semver
from goship.config import ImageTagsConfig
from goship.errors import CheckFailedError, UsageError

Action = Literal["created", "moved", "unchanged", "skipped"]
_FIELDS = {"version", "semver", "major", "minor", "patch", "prerelease", "commit12"}


TagTemplates = ImageTagsConfig
"""How tags are spelled (goship.yaml ``images.tags``)."""


def check_templates(templates: TagTemplates) -> None:
    """Refuse templates with unknown fields, or an exact template that cannot tell versions apart."""
    for name in ("exact", "minor", "major", "latest", "channel", "dev"):
        template = getattr(templates, name)
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        unknown = sorted(fields - _FIELDS)
        if unknown:
            raise UsageError(
                f"images.tags.{name}: unknown field {{{unknown[0]}}} in {template!r} "
                f"(expected some of {', '.join('{' + f + '}' for f in sorted(_FIELDS))})",
            )
    if not ({"version", "semver"} & {f for _, f, _, _ in string.Formatter().parse(templates.exact) if f}):
        raise UsageError(
            f"images.tags.exact: expected {{version}} or {{semver}} in {templates.exact!r}",
            hint="the exact tag must name the whole version, e.g. '{version}' or '{semver}'",
        )


def version_of(templates: TagTemplates, tag: str) -> str | None:
    """The version (``v1.2.3``) an exact tag names, or ``None`` when ``tag`` is not an exact tag."""
    pattern = ""
    for literal, field, _, _ in string.Formatter().parse(templates.exact):
        pattern += re.escape(literal)
        if field == "version":
            pattern += r"(?P<version>v[0-9A-Za-z.+-]+)"
        elif field == "semver":
            pattern += r"(?P<semver>[0-9][0-9A-Za-z.+-]*)"
        elif field:
            pattern += r"[0-9A-Za-z.-]+"
    m = re.fullmatch(pattern, tag)
    if not m:
        return None
    groups = m.groupdict()
    version = groups.get("version") or ("v" + groups["semver"] if groups.get("semver") else None)
    if version is None or semver.canonical(version) != version:
        return None
    return version


@dataclass(frozen=True)
class TagAction:
    """What happens to one tag of one image."""

    tag: str
    action: Action
    previous: str | None
    """The digest the tag pointed at before (``None`` when it did not exist)."""
    reason: str
    rolling: bool = False
    """A tag that follows the newest version of its group (``v1.3``, ``v1``, ``latest``, a channel)."""


def _fields(version: str | None, commit: str) -> dict[str, str]:
    out = {
        "commit12": commit[:12],
        "version": "",
        "semver": "",
        "major": "",
        "minor": "",
        "patch": "",
        "prerelease": "",
    }
    if version:
        core = version.split("-", 1)[0].split("+", 1)[0]
        major, minor, patch = core[1:].split(".")
        out |= {
            "version": version,
            "semver": version[1:],
            "major": major,
            "minor": minor,
            "patch": patch,
            "prerelease": semver.prerelease(version).lstrip("-"),
        }
    return out


def plan_tags(
    *,
    version: str | None,
    commit: str,
    digest: str,
    existing: Mapping[str, str],
    known_versions: Iterable[str],
    templates: TagTemplates,
    force: bool = False,
) -> list[TagAction]:
    """The tags of an image with ``digest`` built from ``commit`` (released as ``version``, if it is one).

    ``existing`` maps the registry's tags (those that matter) to their digests; ``known_versions`` are the
    versions released so far, from the registry's exact tags and the module's git tags together.
    """
    fields = _fields(version, commit)
    if version is None:
        return [
            _exact(templates.dev.format(**fields), digest, existing, force, what="dev build of this commit")
        ]
    if semver.canonical(version) != version:
        raise UsageError(f"cannot tag an image with {version!r}: expected a release version such as v1.3.0")
    actions = [_exact(templates.exact.format(**fields), digest, existing, force, what=f"release {version}")]
    known = {v for v in known_versions if semver.is_valid(v) and not semver.prerelease(v)} | {version}
    if semver.prerelease(version):
        if templates.channel:
            tag = templates.channel.format(**fields)
            actions.append(_rolling(tag, digest, existing, newest=None, version=version))
        return actions
    # Each rolling tag follows the newest release whose group key equals this version's.
    groups: tuple[tuple[str, Callable[[str], str], str], ...] = (
        (templates.minor, semver.major_minor, f"{semver.major_minor(version)}.x"),
        (templates.major, semver.major, f"{semver.major(version)}.x.y"),
        (templates.latest, _everything, "all releases"),
    )
    for template, group_of, group in groups:
        if not template:
            continue
        tag = template.format(**fields)
        newest = max(
            (v for v in known if group_of(v) == group_of(version)), key=functools.cmp_to_key(semver.compare)
        )
        actions.append(
            _rolling(
                tag,
                digest,
                existing,
                newest=newest if newest != version else None,
                version=version,
                group=group,
            )
        )
    return actions


def _everything(_version: str) -> str:
    return ""


def _exact(tag: str, digest: str, existing: Mapping[str, str], force: bool, *, what: str) -> TagAction:
    previous = existing.get(tag)
    if previous is None:
        return TagAction(tag, "created", None, f"the {what}")
    if previous == digest:
        return TagAction(tag, "unchanged", previous, f"already the {what}")
    if not force:
        raise ExactTagTakenError(
            f"tag {tag} already points at {previous[:19]}…, not at this build ({digest[:19]}…); exact tags never move",
            hint="the same commit should build the same image ('goship build --verify-reproducible' says what "
            "differs); to replace a broken release on purpose, publish again with --force",
        )
    return TagAction(tag, "moved", previous, f"--force: the {what} replaces {previous[:19]}…")


def _rolling(
    tag: str,
    digest: str,
    existing: Mapping[str, str],
    *,
    newest: str | None,
    version: str,
    group: str = "",
) -> TagAction:
    previous = existing.get(tag)
    if newest is not None:
        return TagAction(tag, "skipped", previous, f"{newest} is newer in {group}; {tag} stays", rolling=True)
    if previous == digest:
        return TagAction(tag, "unchanged", previous, f"already {version}", rolling=True)
    action: Action = "created" if previous is None else "moved"
    why = f"{version} is the newest in {group}" if group else f"{version} is the newest prerelease published"
    return TagAction(tag, action, previous, why, rolling=True)


class ExactTagTakenError(CheckFailedError):
    """The exact tag exists with another digest: releases are immutable."""
