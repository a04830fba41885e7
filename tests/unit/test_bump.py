"""What commits bump, and what a bump makes of a version."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goship import semver
from goship.git import Commit
from goship.versioning.bump import (
    BUMP_ORDER,
    Bump,
    BumpPolicy,
    CommitBump,
    apply_bump,
    check_prerelease_id,
    classify_commits,
    highest_bump,
    next_prerelease,
    release_core,
)

POLICY = BumpPolicy(bump_types={"feat": "minor", "fix": "patch", "perf": "patch", "revert": "patch"})


def _sha(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()


def _commit(subject: str, body: str = "", *, label: str | None = None, parents: int = 1) -> Commit:
    sha = _sha(label or subject)
    return Commit(
        sha=sha,
        parents=tuple(_sha(f"{sha}-parent-{i}") for i in range(parents)),
        author_name="Ada",
        author_email="ada@example.com",
        subject=subject,
        body=body,
    )


def _classify_one(commit: Commit, policy: BumpPolicy = POLICY, *, below_v1: bool = False) -> CommitBump:
    (only,) = classify_commits([commit], policy, below_v1=below_v1)
    return only


# --- classify_commits --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "bump"),
    [
        ("feat: add export", "minor"),
        ("fix: handle empty input", "patch"),
        ("perf: cache the index", "patch"),
        ("docs: explain tags", "none"),
        ("chore: tidy", "none"),
        ("FEAT: add export", "minor"),
    ],
)
def test_commit_type_bumps_what_the_type_map_says(subject: str, bump: Bump) -> None:
    cb = _classify_one(_commit(subject))

    assert cb.bump == bump
    assert cb.reason == f"type '{subject.split(':')[0].lower()}' → {bump}"


def test_type_map_of_the_policy_overrides_the_usual_meaning() -> None:
    policy = BumpPolicy(bump_types={"docs": "patch"})

    assert _classify_one(_commit("docs: explain tags"), policy).bump == "patch"
    assert _classify_one(_commit("feat: add export"), policy).bump == "none"


@pytest.mark.parametrize(
    ("subject", "body"),
    [("feat!: drop --old", ""), ("docs: explain tags", "BREAKING CHANGE: the docs site moved")],
)
def test_breaking_change_of_any_type_bumps_major(subject: str, body: str) -> None:
    cb = _classify_one(_commit(subject, body))

    assert (cb.bump, cb.reason) == ("major", "breaking change")


def test_breaking_change_below_v1_bumps_minor_when_policy_says_minor() -> None:
    policy = BumpPolicy(bump_types=POLICY.bump_types, breaking_before_v1="minor")

    cb = _classify_one(_commit("feat!: drop --old"), policy, below_v1=True)

    assert cb.bump == "minor"
    assert "below v1.0.0" in cb.reason


def test_breaking_change_below_v1_bumps_major_when_policy_says_major() -> None:
    policy = BumpPolicy(bump_types=POLICY.bump_types, breaking_before_v1="major")

    assert _classify_one(_commit("feat!: drop --old"), policy, below_v1=True).bump == "major"


def test_merge_commit_without_conventional_subject_bumps_nothing() -> None:
    cb = _classify_one(_commit("Merge branch 'topic'", parents=2))

    assert cb.bump == "none"
    assert cb.conventional is None
    assert cb.reason.startswith("merge commit")


def test_merge_commit_with_conventional_subject_counts_like_any_commit() -> None:
    cb = _classify_one(_commit("feat: add export (#12)", parents=2))

    assert cb.bump == "minor"


def test_non_conventional_commit_bumps_nothing_and_says_why() -> None:
    cb = _classify_one(_commit("Add export"))

    assert cb.bump == "none"
    assert cb.conventional is None
    assert "not a conventional commit" in cb.reason


def test_revert_and_the_commit_it_reverts_both_in_range_cancel_out() -> None:
    feat = _commit("feat: add export")
    revert = _commit('Revert "feat: add export"', f"This reverts commit {feat.sha}.")

    bumps = classify_commits([revert, feat], POLICY, below_v1=False)

    assert [(b.commit, b.bump) for b in bumps] == [(revert, "none"), (feat, "none")]
    assert bumps[0].reason == "reverts an unreleased commit"
    assert bumps[1].reason == f"reverted by {revert.sha[:7]} before any release"
    assert highest_bump(bumps) == "none"


def test_conventional_revert_naming_an_abbreviated_hash_cancels_the_commit_out() -> None:
    feat = _commit("feat: add export")
    fix = _commit("fix: handle empty input")
    revert = _commit("revert: add export", f"Refs: {feat.sha[:7]}")

    bumps = classify_commits([revert, fix, feat], POLICY, below_v1=False)

    assert [b.bump for b in bumps] == ["none", "patch", "none"]
    assert highest_bump(bumps) == "patch"


@pytest.mark.parametrize(
    "reapply_subject",
    [
        pytest.param('Revert "Revert "feat: add export""', id="git-before-2.43"),
        pytest.param('Reapply "feat: add export"', id="git-2.43-and-later"),
    ],
)
def test_revert_of_a_revert_in_range_brings_the_original_change_back(reapply_subject: str) -> None:
    feat = _commit("feat: add export")
    revert = _commit('Revert "feat: add export"', f"This reverts commit {feat.sha}.")
    reapply = _commit(reapply_subject, f"This reverts commit {revert.sha}.")

    bumps = classify_commits([reapply, revert, feat], POLICY, below_v1=False)

    # The feature is in the release, so the release must at least bump minor.
    assert highest_bump(bumps) == "minor"


def test_revert_of_a_commit_outside_the_range_bumps_what_the_policy_says_for_revert() -> None:
    revert = _commit('Revert "feat: add export"', f"This reverts commit {_sha('released feat')}.")

    assert _classify_one(revert).bump == "patch"
    assert _classify_one(revert, BumpPolicy(bump_types={"revert": "minor"})).bump == "minor"


def test_revert_that_does_not_say_what_it_reverts_bumps_what_the_policy_says_for_revert() -> None:
    assert _classify_one(_commit('Revert "feat: add export"')).bump == "patch"


def test_classification_keeps_the_order_of_the_commits() -> None:
    commits = [_commit("fix: b"), _commit("feat: a"), _commit("docs: c")]

    assert [b.commit for b in classify_commits(commits, POLICY, below_v1=False)] == commits


# --- highest_bump ------------------------------------------------------------------------------------


def test_highest_bump_of_no_commits_is_none() -> None:
    assert highest_bump([]) == "none"


def test_highest_bump_is_the_largest_of_all_commits() -> None:
    commits = [_commit("docs: a"), _commit("fix: b"), _commit("feat: c"), _commit("fix: d")]

    assert highest_bump(classify_commits(commits, POLICY, below_v1=False)) == "minor"


@given(st.lists(st.sampled_from(list(BUMP_ORDER))))
def test_highest_bump_is_the_maximum_in_bump_order(levels: list[Bump]) -> None:
    commit = _commit("chore: x")
    bumps = [CommitBump(commit=commit, conventional=None, bump=level, reason="") for level in levels]

    assert highest_bump(bumps) == max(levels, key=BUMP_ORDER.__getitem__, default="none")


# --- apply_bump and release_core ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bump", "expected"),
    [("major", "v2.0.0"), ("minor", "v1.3.0"), ("patch", "v1.2.4"), ("none", "v1.2.3")],
)
def test_bump_of_a_release(bump: Bump, expected: str) -> None:
    assert apply_bump("v1.2.3", bump) == expected


def test_bump_of_a_v0_release_stays_in_v0_for_minor() -> None:
    assert apply_bump("v0.9.1", "minor") == "v0.10.0"


def test_bump_beyond_64_bits_stays_exact() -> None:
    assert apply_bump("v1.2.18446744073709551615", "patch") == "v1.2.18446744073709551616"
    assert apply_bump("v99999999999999999999.0.0", "major") == "v100000000000000000000.0.0"


def test_bump_of_a_number_with_thousands_of_digits_stays_exact() -> None:
    # semver keeps numbers as digit strings because int() refuses more than 4300 digits.
    huge = "9" * 5000

    assert apply_bump(f"v1.{huge}.0", "minor") == f"v1.1{'0' * 5000}.0"


@pytest.mark.parametrize(
    ("version", "core"),
    [
        ("v1.4.0-rc.2", "v1.4.0"),
        ("v1.4.0", "v1.4.0"),
        ("v1.4.0-rc.2+build.5", "v1.4.0"),
        ("v2.0.0-beta-x", "v2.0.0"),
    ],
)
def test_release_core_drops_prerelease_and_build(version: str, core: str) -> None:
    assert release_core(version) == core


@given(
    major=st.integers(min_value=0, max_value=10**30),
    minor=st.integers(min_value=0, max_value=10**30),
    patch=st.integers(min_value=0, max_value=10**30),
    bump=st.sampled_from(["major", "minor", "patch"]),
)
def test_bumped_version_is_higher_and_a_release(major: int, minor: int, patch: int, bump: Bump) -> None:
    version = f"v{major}.{minor}.{patch}"

    bumped = apply_bump(version, bump)

    assert semver.compare(bumped, version) == 1
    assert semver.canonical(bumped) == bumped
    assert semver.prerelease(bumped) == ""


# --- prerelease channels -----------------------------------------------------------------------------


@pytest.mark.parametrize("identifier", ["rc", "beta", "alpha", "rc-x", "pre2"])
def test_prerelease_channel_name_of_letters_digits_and_hyphens_is_accepted(identifier: str) -> None:
    assert check_prerelease_id(identifier) is None


@pytest.mark.parametrize("identifier", ["", "rc.1", "rc 1", "rc_1", "bêta", "rc+meta", "rc\n"])
def test_prerelease_channel_name_with_other_characters_is_refused(identifier: str) -> None:
    assert check_prerelease_id(identifier) == f"expected letters, digits and '-' (found {identifier!r})"


@pytest.mark.parametrize("identifier", ["1", "007"])
def test_prerelease_channel_name_that_is_a_number_is_refused(identifier: str) -> None:
    reason = check_prerelease_id(identifier)

    assert reason is not None
    assert "found the number" in reason


@given(st.text(max_size=12))
def test_accepted_channel_makes_a_valid_prerelease_version(identifier: str) -> None:
    if check_prerelease_id(identifier) is None:
        assert semver.is_valid(next_prerelease("v1.0.0", identifier, []))


def test_first_prerelease_of_a_channel_is_number_one() -> None:
    assert next_prerelease("v1.4.0", "rc", []) == "v1.4.0-rc.1"


def test_next_prerelease_follows_the_highest_existing_one() -> None:
    assert next_prerelease("v1.4.0", "rc", ["v1.4.0-rc.1", "v1.4.0-rc.2"]) == "v1.4.0-rc.3"


def test_next_prerelease_ignores_other_channels_and_other_targets() -> None:
    existing = ["v1.4.0-beta.7", "v1.3.0-rc.5", "v1.4.0-rc2.1", "v1.4.0", "v1.4.1-rc.9"]

    assert next_prerelease("v1.4.0", "rc", existing) == "v1.4.0-rc.1"


def test_next_prerelease_counts_numerically_not_lexically() -> None:
    existing = [f"v1.4.0-rc.{n}" for n in range(1, 10)]

    assert next_prerelease("v1.4.0", "rc", existing) == "v1.4.0-rc.10"
    assert next_prerelease("v1.4.0", "rc", [*existing, "v1.4.0-rc.10"]) == "v1.4.0-rc.11"


def test_next_prerelease_ignores_existing_versions_with_more_identifiers() -> None:
    assert next_prerelease("v1.4.0", "rc", ["v1.4.0-rc.1", "v1.4.0-rc.2.1"]) == "v1.4.0-rc.2"


@given(st.sets(st.integers(min_value=1, max_value=10_000), max_size=20))
def test_next_prerelease_is_higher_than_every_existing_one(numbers: set[int]) -> None:
    existing = [f"v1.4.0-rc.{n}" for n in numbers]

    nxt = next_prerelease("v1.4.0", "rc", existing)

    assert all(semver.compare(nxt, v) == 1 for v in existing)
    assert semver.compare(nxt, "v1.4.0") == -1
