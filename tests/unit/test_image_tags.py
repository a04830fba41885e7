"""Tag policy: exact tags never move, rolling tags only move forward within their group."""

from __future__ import annotations

import pytest

from goship.errors import UsageError
from goship.image.tags import (
    ExactTagTakenError,
    TagAction,
    TagTemplates,
    check_templates,
    plan_tags,
    version_of,
)

T = TagTemplates()
COMMIT = "0123456789abcdef0123456789abcdef01234567"
A, B, C = "sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64


def summary(actions: list[TagAction]) -> list[tuple[str, str]]:
    return [(a.tag, a.action) for a in actions]


def test_first_release_creates_exact_and_rolling_tags() -> None:
    actions = plan_tags(
        version="v1.3.0", commit=COMMIT, digest=A, existing={}, known_versions=[], templates=T
    )
    assert summary(actions) == [
        ("v1.3.0", "created"),
        ("v1.3", "created"),
        ("v1", "created"),
        ("latest", "created"),
    ]
    assert [a.rolling for a in actions] == [False, True, True, True]


def test_rolling_tag_stays_on_newer_minor_when_patching_older_line() -> None:
    existing = {"v1.3.0": A, "v1.3": A, "v1": A, "latest": A, "v1.2.8": B, "v1.2": B}
    actions = plan_tags(
        version="v1.2.9",
        commit=COMMIT,
        digest=C,
        existing=existing,
        known_versions=["v1.3.0", "v1.2.8"],
        templates=T,
    )
    assert summary(actions) == [
        ("v1.2.9", "created"),
        ("v1.2", "moved"),
        ("v1", "skipped"),
        ("latest", "skipped"),
    ]
    assert actions[1].previous == B
    assert actions[2].reason == "v1.3.0 is newer in v1.x.y; v1 stays"
    assert actions[3].previous == A


def test_a_newer_git_tag_not_yet_published_holds_the_rolling_tags_back() -> None:
    actions = plan_tags(
        version="v2.0.1", commit=COMMIT, digest=A, existing={}, known_versions=["v2.1.0"], templates=T
    )
    assert summary(actions) == [
        ("v2.0.1", "created"),
        ("v2.0", "created"),
        ("v2", "skipped"),
        ("latest", "skipped"),
    ]


def test_exact_tag_never_moves_unless_forced() -> None:
    with pytest.raises(ExactTagTakenError) as caught:
        plan_tags(
            version="v1.0.0", commit=COMMIT, digest=B, existing={"v1.0.0": A}, known_versions=[], templates=T
        )
    assert caught.value.exit_code == 1
    assert "exact tags never move" in caught.value.message
    forced = plan_tags(
        version="v1.0.0",
        commit=COMMIT,
        digest=B,
        existing={"v1.0.0": A},
        known_versions=[],
        templates=T,
        force=True,
    )
    assert forced[0] == TagAction("v1.0.0", "moved", A, forced[0].reason)


def test_republishing_the_same_digest_changes_nothing() -> None:
    existing = {"v1.0.0": A, "v1.0": A, "v1": A, "latest": A}
    actions = plan_tags(
        version="v1.0.0", commit=COMMIT, digest=A, existing=existing, known_versions=[], templates=T
    )
    assert {a.action for a in actions} == {"unchanged"}


def test_prerelease_gets_only_its_exact_tag_and_an_optional_channel() -> None:
    actions = plan_tags(
        version="v1.4.0-rc.1", commit=COMMIT, digest=A, existing={}, known_versions=[], templates=T
    )
    assert summary(actions) == [("v1.4.0-rc.1", "created")]
    with_channel = TagTemplates(channel="next")
    actions = plan_tags(
        version="v1.4.0-rc.2",
        commit=COMMIT,
        digest=B,
        existing={"next": A},
        known_versions=[],
        templates=with_channel,
    )
    assert summary(actions) == [("v1.4.0-rc.2", "created"), ("next", "moved")]


def test_untagged_commit_gets_only_a_sha_tag() -> None:
    actions = plan_tags(
        version=None, commit=COMMIT, digest=A, existing={}, known_versions=["v1.0.0"], templates=T
    )
    assert summary(actions) == [("sha-0123456789ab", "created")]


def test_templates_without_v_prefix() -> None:
    plain = TagTemplates(exact="{semver}", minor="{major}.{minor}", major="{major}")
    actions = plan_tags(
        version="v1.3.0", commit=COMMIT, digest=A, existing={}, known_versions=[], templates=plain
    )
    assert summary(actions)[:3] == [("1.3.0", "created"), ("1.3", "created"), ("1", "created")]
    assert version_of(plain, "1.3.0") == "v1.3.0"
    assert version_of(plain, "1.3") is None


@pytest.mark.parametrize(
    ("tag", "version"),
    [
        ("v1.2.3", "v1.2.3"),
        ("v1.2.3-rc.1", "v1.2.3-rc.1"),
        ("v1.2", None),
        ("latest", None),
        ("sha-abc", None),
    ],
)
def test_exact_tags_are_read_back_as_versions(tag: str, version: str | None) -> None:
    assert version_of(T, tag) == version


def test_bad_templates_are_refused() -> None:
    with pytest.raises(UsageError, match="unknown field"):
        check_templates(TagTemplates(minor="v{mayor}"))
    with pytest.raises(UsageError, match=r"expected \{version\} or \{semver\}"):
        check_templates(TagTemplates(exact="release"))
