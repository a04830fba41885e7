"""For teams that keep their own manifests: every ``image:`` of a service's repository pinned to the
released digest (``registry.example.com/team/orders:v1.3`` → ``registry.example.com/team/orders@sha256:…``).

The rewrite is textual, one ``image`` value at a time, so comments, key order, anchors and Helm-free
templating around it survive untouched; YAML and JSON manifests both work. Other images (sidecars, init
containers of other repositories) are left as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from goship.kube.release import Release

_IMAGE = re.compile(
    r"""(?P<key>(?:^|(?<=[\s{,\-]))(?P<kq>["']?)image(?P=kq)\s*:\s*)(?P<q>["']?)(?P<ref>[^\s"',}#\]]+)(?P=q)""",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Replacement:
    """One image reference changed."""

    line: int
    """1-based line of the reference."""
    before: str
    after: str


@dataclass(frozen=True)
class Rewritten:
    text: str
    replacements: tuple[Replacement, ...]


def repository_of_reference(reference: str) -> str:
    """``host/path[:tag][@digest]`` → ``host/path`` (a port's colon is not a tag's)."""
    name = reference.partition("@")[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def rewrite_images(text: str, release: Release) -> Rewritten:
    """``text`` with each image of ``release.repository`` replaced by ``release.image``."""
    replacements: list[Replacement] = []

    def pin(m: re.Match[str]) -> str:
        ref = m["ref"]
        if repository_of_reference(ref) != release.repository:
            return m[0]
        line = text.count("\n", 0, m.start("ref")) + 1
        replacements.append(Replacement(line, ref, release.image))
        return f"{m['key']}{m['q']}{release.image}{m['q']}"

    return Rewritten(_IMAGE.sub(pin, text), tuple(replacements))
