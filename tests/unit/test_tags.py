"""Which tags are releases of which Go module (go.dev/ref/mod#vcs-version), and why others are not."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goship import semver
from goship.git import TagRef
from goship.modules import Module, tag_prefix_for
from goship.versioning.tags import IgnoredTag, Release, classify_tags

ROOT = Module(path="example.com/m", dir=".", tag_prefix="", nested=("services/orders", "v2"))
ROOT_V2 = Module(path="example.com/m/v2", dir="v2", tag_prefix="")
ORDERS = Module(path="example.com/m/services/orders", dir="services/orders", tag_prefix="services/orders/")
MODULES = [ROOT, ROOT_V2, ORDERS]


def _ref(name: str) -> TagRef:
    return TagRef(name=name, commit=hashlib.sha1(name.encode()).hexdigest(), annotated=True)


def _refs(*names: str) -> list[TagRef]:
    return [_ref(n) for n in names]


def _versions(module: Module, *names: str, modules: list[Module] = MODULES) -> list[str]:
    return [r.version for r in classify_tags(module, modules, _refs(*names)).releases]


def _ignored(module: Module, *names: str, modules: list[Module] = MODULES) -> dict[str, str]:
    return {i.tag: i.reason for i in classify_tags(module, modules, _refs(*names)).ignored}


# --- releases and look-alikes of the root module -----------------------------------------------------


def test_full_version_tag_is_a_release_of_the_root_module() -> None:
    tags = classify_tags(ROOT, [ROOT], _refs("v1.2.3"))

    assert tags.releases == (Release(version="v1.2.3", tag="v1.2.3", commit=_ref("v1.2.3").commit),)
    assert tags.ignored == ()


@pytest.mark.parametrize(
    ("tag", "reason"),
    [
        ("v1.2", "shorthand version; Go only resolves full versions like v1.2.0"),
        ("v1.2.3+meta", "build metadata (+meta) is not allowed in a Go module version"),
        (
            "v1.2.4-0.20190101000000-abcdefabcdef",
            "shaped like a pseudo-version; Go does not treat it as a release",
        ),
        ("release-1", "not a version tag (expected v<major>.<minor>.<patch>)"),
        ("v1.2.03", "not a semantic version (expected v<major>.<minor>.<patch>[-prerelease])"),
        ("v2.0.0", "major v2 needs module path example.com/m/v2 (go.mod has no /v2 suffix)"),
    ],
)
def test_tag_go_would_not_resolve_is_ignored_with_a_reason(tag: str, reason: str) -> None:
    tags = classify_tags(ROOT, [ROOT], _refs(tag, "v1.2.3"))

    assert tags.ignored == (IgnoredTag(tag=tag, reason=reason),)
    assert [r.version for r in tags.releases] == ["v1.2.3"]


def test_ignored_tags_are_sorted_by_name() -> None:
    assert list(_ignored(ROOT, "zeta", "alpha", "v1.2", modules=[ROOT])) == ["alpha", "v1.2", "zeta"]


def test_tag_longer_than_100_characters_is_ignored() -> None:
    tag = f"v1.0.{'9' * 100}"

    assert _ignored(ROOT, tag) == {tag: "longer than 100 characters: not treated as a release"}


def test_prerelease_tag_is_a_release() -> None:
    assert _versions(ROOT, "v1.3.0-rc.1") == ["v1.3.0-rc.1"]


# --- nested modules ----------------------------------------------------------------------------------


def test_nested_module_sees_only_the_tags_with_its_prefix() -> None:
    names = ("v1.0.0", "services/orders/v0.3.0", "services/orders/v0.2.0", "services/billing/v1.0.0")

    tags = classify_tags(ORDERS, MODULES, _refs(*names))

    assert [(r.version, r.tag) for r in tags.releases] == [
        ("v0.3.0", "services/orders/v0.3.0"),
        ("v0.2.0", "services/orders/v0.2.0"),
    ]
    assert tags.ignored == ()


def test_root_module_leaves_nested_module_tags_alone() -> None:
    tags = classify_tags(ROOT, MODULES, _refs("v1.0.0", "services/orders/v0.3.0", "services/orders/nonsense"))

    assert [r.tag for r in tags.releases] == ["v1.0.0"]
    assert tags.ignored == ()


def test_tag_deeper_below_a_nested_module_prefix_is_not_its_tag() -> None:
    tags = classify_tags(ORDERS, MODULES, _refs("services/orders/internal/v1.0.0"))

    assert (tags.releases, tags.ignored) == ((), ())


def test_look_alike_under_a_nested_prefix_is_ignored_with_the_full_tag_name() -> None:
    assert _ignored(ORDERS, "services/orders/v1.0") == {
        "services/orders/v1.0": "shorthand version; Go only resolves full versions like v1.0.0"
    }


def test_nested_module_v2_tag_needs_a_v2_module_path() -> None:
    assert _ignored(ORDERS, "services/orders/v2.0.0") == {
        "services/orders/v2.0.0": "major v2 needs module path example.com/m/services/orders/v2 "
        "(go.mod has no /v2 suffix)"
    }


# --- a major-version subdirectory beside the root -----------------------------------------------------


def test_v2_subdirectory_module_takes_the_v2_tags_of_the_shared_prefix() -> None:
    names = ("v1.5.0", "v2.0.0", "v2.1.0", "v0.9.0")

    assert _versions(ROOT_V2, *names) == ["v2.1.0", "v2.0.0"]
    assert _versions(ROOT, *names) == ["v1.5.0", "v0.9.0"]


def test_tag_owned_by_the_sibling_module_is_not_ignored_but_left_to_it() -> None:
    assert _ignored(ROOT_V2, "v1.5.0") == {}
    assert _ignored(ROOT, "v2.0.0") == {}


def test_major_no_module_of_the_prefix_promises_is_ignored_by_each() -> None:
    assert _ignored(ROOT_V2, "v3.0.0") == {
        "v3.0.0": "major v3 does not match module path example.com/m/v2 (expected v2.x.y)"
    }
    assert _ignored(ROOT, "v3.0.0") == {
        "v3.0.0": "major v3 needs module path example.com/m/v3 (go.mod has no /v3 suffix)"
    }


# --- ordering and highest ----------------------------------------------------------------------------


def test_releases_are_sorted_highest_first_by_semver_precedence() -> None:
    names = ("v1.9.0", "v1.0.0-rc.1", "v1.10.0", "v1.0.0", "v1.10.0-beta.2", "v1.10.0-beta.10")

    assert _versions(ROOT, *names) == [
        "v1.10.0",
        "v1.10.0-beta.10",
        "v1.10.0-beta.2",
        "v1.9.0",
        "v1.0.0",
        "v1.0.0-rc.1",
    ]


PRERELEASES = [
    "",
    "-rc",
    "-rc.1",
    "-rc.2",
    "-rc.10",
    "-rc.1.x",
    "-rc-1",
    "-a",
    "-a.b",
    "-1",
    "-2",
    "-11",
    "-0.a",
]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),
            st.integers(0, 12),
            st.integers(0, 12),
            st.sampled_from(PRERELEASES),
        ),
        unique=True,
        max_size=25,
    ),
    st.randoms(use_true_random=False),
)
def test_releases_are_ordered_the_same_whatever_the_tag_order(
    parts: list[tuple[int, int, int, str]], rnd: random.Random
) -> None:
    names = [f"v{a}.{b}.{c}{pre}" for a, b, c, pre in parts]
    shuffled = names[:]
    rnd.shuffle(shuffled)

    versions = _versions(ROOT, *shuffled)

    assert versions == list(reversed(semver.sort(names)))


def test_highest_release_is_the_first() -> None:
    tags = classify_tags(ROOT, MODULES, _refs("v1.2.0", "v1.3.0-rc.1", "v1.1.0"))

    highest = tags.highest()

    assert highest is not None
    assert highest.version == "v1.3.0-rc.1"


def test_highest_final_release_skips_prereleases() -> None:
    tags = classify_tags(ROOT, MODULES, _refs("v1.2.0", "v1.3.0-rc.1", "v1.1.0"))

    highest = tags.highest(final_only=True)

    assert highest is not None
    assert highest.version == "v1.2.0"


def test_highest_where_a_condition_holds_skips_the_others() -> None:
    tags = classify_tags(ROOT, MODULES, _refs("v1.2.0", "v1.3.0-rc.1", "v1.1.0"))
    in_history = {"v1.1.0", "v1.3.0-rc.1"}

    highest = tags.highest(where=lambda r: r.tag in in_history)
    highest_final = tags.highest(where=lambda r: r.tag in in_history, final_only=True)

    assert highest is not None and highest.tag == "v1.3.0-rc.1"
    assert highest_final is not None and highest_final.tag == "v1.1.0"


def test_highest_asks_the_condition_highest_first_and_only_as_far_as_needed() -> None:
    tags = classify_tags(ROOT, MODULES, _refs("v1.2.0", "v1.3.0-rc.1", "v1.1.0", "v1.0.0"))
    asked: list[str] = []

    def in_history(release: Release) -> bool:
        asked.append(release.version)
        return release.version == "v1.1.0"

    tags.highest(where=in_history, final_only=True)

    assert asked == ["v1.2.0", "v1.1.0"]


def test_highest_is_none_when_no_release_qualifies() -> None:
    tags = classify_tags(ROOT, MODULES, _refs("v1.3.0-rc.1"))

    assert tags.highest(final_only=True) is None
    assert tags.highest(where=lambda _: False) is None
    assert classify_tags(ROOT, MODULES, []).highest() is None


# --- tag_prefix_for ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dir", "prefix"),
    [
        (".", ""),
        ("services/orders", "services/orders/"),
        ("services/orders/v2", "services/orders/"),
        ("v2", ""),
        ("v10", ""),
        ("services/v2orders", "services/v2orders/"),
    ],
)
def test_tag_prefix_of_a_module_directory(dir: str, prefix: str) -> None:
    assert tag_prefix_for(dir) == prefix
