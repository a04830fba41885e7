"""goship.semver: golang.org/x/mod's own test tables, re-expressed, and properties of the ordering."""

from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import UTC, datetime

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from goship import semver
from goship.errors import UsageError

# --- semver: x/mod's table, in Go's order, which is also ascending precedence ------------------------

# (input, canonical form or "" when invalid); entries with equal canonical forms compare equal.
GO_TABLE = [
    ("bad", ""),
    ("v1-alpha.beta.gamma", ""),
    ("v1-pre", ""),
    ("v1+meta", ""),
    ("v1-pre+meta", ""),
    ("v1.2-pre", ""),
    ("v1.2+meta", ""),
    ("v1.2-pre+meta", ""),
    ("v1.0.0-alpha", "v1.0.0-alpha"),
    ("v1.0.0-alpha.1", "v1.0.0-alpha.1"),
    ("v1.0.0-alpha.beta", "v1.0.0-alpha.beta"),
    ("v1.0.0-beta", "v1.0.0-beta"),
    ("v1.0.0-beta.2", "v1.0.0-beta.2"),
    ("v1.0.0-beta.11", "v1.0.0-beta.11"),
    ("v1.0.0-rc.1", "v1.0.0-rc.1"),
    ("v1", "v1.0.0"),
    ("v1.0", "v1.0.0"),
    ("v1.0.0", "v1.0.0"),
    ("v1.2", "v1.2.0"),
    ("v1.2.0", "v1.2.0"),
    ("v1.2.3-456", "v1.2.3-456"),
    ("v1.2.3-456.789", "v1.2.3-456.789"),
    ("v1.2.3-456-789", "v1.2.3-456-789"),
    ("v1.2.3-456a", "v1.2.3-456a"),
    ("v1.2.3-pre", "v1.2.3-pre"),
    ("v1.2.3-pre+meta", "v1.2.3-pre"),
    ("v1.2.3-pre.1", "v1.2.3-pre.1"),
    ("v1.2.3-zzz", "v1.2.3-zzz"),
    ("v1.2.3", "v1.2.3"),
    ("v1.2.3+meta", "v1.2.3"),
    ("v1.2.3+meta-pre", "v1.2.3"),
    ("v1.2.3+meta-pre.sha.256a", "v1.2.3"),
]
GO_SORTED = [
    "bad",
    "v1+meta",
    "v1-alpha.beta.gamma",
    "v1-pre",
    "v1-pre+meta",
    "v1.2+meta",
    "v1.2-pre",
    "v1.2-pre+meta",
    "v1.0.0-alpha",
    "v1.0.0-alpha.1",
    "v1.0.0-alpha.beta",
    "v1.0.0-beta",
    "v1.0.0-beta.2",
    "v1.0.0-beta.11",
    "v1.0.0-rc.1",
    "v1",
    "v1.0",
    "v1.0.0",
    "v1.2",
    "v1.2.0",
    "v1.2.3-456",
    "v1.2.3-456.789",
    "v1.2.3-456-789",
    "v1.2.3-456a",
    "v1.2.3-pre",
    "v1.2.3-pre+meta",
    "v1.2.3-pre.1",
    "v1.2.3-zzz",
    "v1.2.3",
    "v1.2.3+meta",
    "v1.2.3+meta-pre",
    "v1.2.3+meta-pre.sha.256a",
]


@pytest.mark.parametrize(("version", "want"), GO_TABLE)
def test_is_valid_and_canonical_follow_gos_table(version: str, want: str) -> None:
    assert semver.is_valid(version) is (want != "")
    assert semver.canonical(version) == want


@pytest.mark.parametrize(("version", "want"), GO_TABLE)
def test_parts_follow_gos_table(version: str, want: str) -> None:
    if not want:
        assert (semver.major(version), semver.major_minor(version)) == ("", "")
        assert (semver.prerelease(version), semver.build(version)) == ("", "")
        return
    core = want.split("-", 1)[0]
    assert semver.major(version) == core.split(".")[0]
    assert semver.major_minor(version) == core.rsplit(".", 1)[0]
    assert semver.prerelease(version) == want[len(core) :]
    assert semver.build(version) == (version[version.index("+") :] if "+" in version else "")


def test_compare_and_max_follow_the_order_of_gos_table() -> None:
    for i, (v, cv) in enumerate(GO_TABLE):
        for j, (w, cw) in enumerate(GO_TABLE):
            want = 0 if cv == cw else (-1 if i < j else 1)
            assert semver.compare(v, w) == want, (v, w)
            assert semver.max(v, w) == (cw if i < j else cv), (v, w)


@pytest.mark.parametrize(
    ("v", "w", "want"),
    [
        ("v1", "v1", 0),
        ("v2", "v1", 1),
        ("v1", "v2", -1),
        ("v1.19", "v1.2", 1),
        ("v1.10.0", "v1.9.0", 1),
        ("v1.0.0-beta.11", "v1.0.0-beta.2", 1),
        ("v1.0.0-1", "v1.0.0-a", -1),
        ("v1.0.0-a.b", "v1.0.0-a", 1),
        ("v1.0.0-A", "v1.0.0-a", -1),
        ("v1.0.0+a", "v1.0.0+b", 0),
        ("v" + "9" * 40 + ".0.0", "v1" + "0" * 40 + ".0.0", -1),
        ("v1.0.0-" + "9" * 5000, "v1.0.0-1" + "0" * 5000, -1),
        ("v01.0.0", "v1.0.0", -1),
        ("bad", "worse", 0),
    ],
)
def test_compare_examples(v: str, w: str, want: int) -> None:
    assert semver.compare(v, w) == want
    assert semver.compare(w, v) == -want


def test_sort_gives_gos_golden_order_from_any_shuffle() -> None:
    versions = [v for v, _ in GO_TABLE]
    for seed in range(10):
        random.Random(seed).shuffle(versions)
        assert semver.sort(versions) == GO_SORTED


def test_sort_returns_a_new_list() -> None:
    versions = ["v2", "v1"]
    assert semver.sort(versions) == ["v1", "v2"]
    assert versions == ["v2", "v1"]


MALFORMED = ["", "v", "V1.0.0", "1.0.0", "v1.0.0\n", "v1.0.0 ", "v1.", "v1.0.0-", "v1.0.0+", "v1.0.0-01"]
MALFORMED += ["v1.0.0-a..b", "v01", "v1.00", "v1.0.00", "v1.0.0-é", "v١.0.0", "v1.0.0+meta+more", "v1.0.0.0"]


@pytest.mark.parametrize("version", MALFORMED)
def test_malformed_versions_are_invalid_and_every_part_is_empty(version: str) -> None:
    assert not semver.is_valid(version)
    parts = semver.canonical, semver.major, semver.major_minor, semver.prerelease, semver.build
    assert [part(version) for part in parts] == [""] * 5


def test_build_metadata_may_have_leading_zeros_unlike_prerelease() -> None:
    assert semver.is_valid("v1.0.0+001")
    assert not semver.is_valid("v1.0.0-001")
    assert semver.is_valid("v1.0.0-0a1")


# --- pseudo-versions: x/mod's pseudo_test.go -------------------------------------------------------------

# (tagged version it builds on, pseudo-version at 2006-01-02 15:04:05 UTC with revision "hash")
PSEUDO_TABLE = [
    ("", "v0.0.0-20060102150405-hash"),
    ("", "v1.0.0-20060102150405-hash"),
    ("", "v2.0.0-20060102150405-hash"),
    ("v0.0.0", "v0.0.1-0.20060102150405-hash"),
    ("v1.2.3", "v1.2.4-0.20060102150405-hash"),
    ("v1.2.99999999999999999", "v1.2.100000000000000000-0.20060102150405-hash"),
    ("v1.2.3-pre", "v1.2.3-pre.0.20060102150405-hash"),
    ("v1.3.0-pre", "v1.3.0-pre.0.20060102150405-hash"),
    ("v0.0.0--", "v0.0.0--.0.20060102150405-hash"),
    ("v1.0.0+metadata", "v1.0.1-0.20060102150405-hash+metadata"),
    ("v2.0.0+incompatible", "v2.0.1-0.20060102150405-hash+incompatible"),
    ("v2.3.0-pre+incompatible", "v2.3.0-pre.0.20060102150405-hash+incompatible"),
]
PSEUDO_TIME = datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(("base", "pseudo"), PSEUDO_TABLE)
def test_pseudo_version_parts_follow_gos_table(base: str, pseudo: str) -> None:
    assert semver.is_pseudo_version(pseudo)
    assert not semver.is_pseudo_version(base)
    assert semver.pseudo_version_base(pseudo) == base
    assert semver.pseudo_version_rev(pseudo) == "hash"
    assert semver.pseudo_version_time(pseudo) == PSEUDO_TIME
    parsed = semver.parse_pseudo_version(pseudo)
    assert (parsed.base, parsed.timestamp, parsed.revision) == (base, "20060102150405", "hash")
    assert parsed.incompatible is pseudo.endswith("+incompatible")


@pytest.mark.parametrize("not_pseudo", [base for base, _ in PSEUDO_TABLE if base] + ["---", ""])
def test_a_tag_is_no_pseudo_version(not_pseudo: str) -> None:
    for read in semver.pseudo_version_rev, semver.pseudo_version_time, semver.parse_pseudo_version:
        with pytest.raises(semver.InvalidVersionError, match="syntax error"):
            read(not_pseudo)


@pytest.mark.parametrize(
    ("pseudo", "message"),
    [
        ("v0.0.0", 'pseudo-version "v0.0.0" invalid: syntax error'),
        ("v0.0.0-", 'pseudo-version "v0.0.0-" invalid: syntax error'),
        (
            "v0.0.0-0.20060102150405-hash",
            'pseudo-version "v0.0.0-0.20060102150405-hash" invalid: '
            "version before v0.0.0 would have negative patch number",
        ),
        (
            "v0.1.0-0.20060102150405-hash",
            'pseudo-version "v0.1.0-0.20060102150405-hash" invalid: '
            "version before v0.1.0 would have negative patch number",
        ),
        (
            "v1.0.0-0.20060102150405-hash",
            'pseudo-version "v1.0.0-0.20060102150405-hash" invalid: '
            "version before v1.0.0 would have negative patch number",
        ),
        (
            "v0.0.0-20060102150405-hash+incompatible",
            'pseudo-version "v0.0.0-20060102150405-hash+incompatible" invalid: '
            'lacks base version, but has build metadata "+incompatible"',
        ),
        (
            "v0.0.0-20060102150405-hash+metadata",
            'pseudo-version "v0.0.0-20060102150405-hash+metadata" invalid: '
            'lacks base version, but has build metadata "+metadata"',
        ),
        ("v1.0.0\n", 'pseudo-version "v1.0.0\\n" invalid: syntax error'),
    ],
)
def test_pseudo_version_base_refuses_what_go_refuses_with_gos_message(pseudo: str, message: str) -> None:
    with pytest.raises(semver.InvalidVersionError) as caught:
        semver.pseudo_version_base(pseudo)
    assert str(caught.value) == message
    assert caught.value.pseudo


@pytest.mark.parametrize(
    ("patch", "previous"),
    [
        ("1", "0"),
        ("2", "1"),
        ("10", "9"),
        ("99", "98"),
        ("100", "99"),
        ("101", "100"),
        ("1" + "0" * 30, "9" * 30),
    ],
)
def test_pseudo_version_base_steps_the_patch_back_in_decimal(patch: str, previous: str) -> None:
    assert semver.pseudo_version_base(f"v1.2.{patch}-0.20060102150405-hash") == f"v1.2.{previous}"


@pytest.mark.parametrize("stamp", ["20061302150405", "20060100150405", "20060230150405", "20060102240405"])
def test_a_pseudo_version_with_an_impossible_time_has_a_base_but_no_time(stamp: str) -> None:
    pseudo = f"v1.2.4-0.{stamp}-hash"
    assert semver.pseudo_version_base(pseudo) == "v1.2.3"
    with pytest.raises(semver.InvalidVersionError, match=f'malformed time "{stamp}"'):
        semver.pseudo_version_time(pseudo)
    with pytest.raises(semver.InvalidVersionError, match="malformed time"):
        semver.parse_pseudo_version(pseudo)


def test_leap_days_follow_the_gregorian_calendar() -> None:
    assert semver.pseudo_version_time("v1.0.0-20000229000000-hash") == datetime(2000, 2, 29, tzinfo=UTC)
    with pytest.raises(semver.InvalidVersionError, match="malformed time"):
        semver.pseudo_version_time("v1.0.0-19000229000000-hash")


def test_year_zero_is_a_valid_pseudo_version_that_datetime_cannot_hold() -> None:
    pseudo = "v1.0.0-00000229000000-hash"
    assert semver.parse_pseudo_version(pseudo).timestamp == "00000229000000"
    with pytest.raises(semver.InvalidVersionError, match="year 0"):
        semver.pseudo_version_time(pseudo)


def test_pseudo_version_is_a_frozen_value() -> None:
    parsed = semver.parse_pseudo_version("v2.0.1-0.20060102150405-abcdef123456+incompatible")
    assert parsed == semver.PseudoVersion(
        base="v2.0.0+incompatible", timestamp="20060102150405", revision="abcdef123456", build="+incompatible"
    )
    assert parsed.incompatible
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.base = "v3.0.0"  # type: ignore[misc]


def test_invalid_version_error_is_a_value_error_and_a_usage_error() -> None:
    with pytest.raises(ValueError, match="syntax error") as caught:
        semver.pseudo_version_base("v1.0.0")
    error = caught.value
    assert isinstance(error, semver.InvalidVersionError)
    assert isinstance(error, UsageError)
    assert (error.exit_code, error.version, error.pseudo) == (2, "v1.0.0", True)


# --- major-version path suffixes: x/mod's module_test.go -------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "path_major"),
    [
        ("x.y/z", ""),
        ("x.y/z", "/v2"),
        ("x.y/z", "/v3"),
        ("x.y/v", ""),
        ("gopkg.in/yaml", ".v0"),
        ("gopkg.in/yaml", ".v1"),
        ("gopkg.in/yaml", ".v2"),
        ("gopkg.in/yaml", ".v3"),
        ("gopkg.in/yaml", ".v2-unstable"),
        ("example.com/mod", "/v10"),
    ],
)
def test_split_path_version_follows_gos_table(prefix: str, path_major: str) -> None:
    assert semver.split_path_version(prefix + path_major) == (prefix, path_major, True)


@pytest.mark.parametrize(
    "path",
    [
        *("x.y/z/v0", "x.y/z/v1", "x.y/z/v2.0", "x.y/z/v02"),
        *("gopkg.in/yaml", "gopkg.in/yaml.v01", "gopkg.in/x.v", "gopkg.in/yaml.v0-unstable", "gopkg.in/v2"),
    ],
)
def test_split_path_version_refuses_suffixes_go_refuses(path: str) -> None:
    assert semver.split_path_version(path) == (path, "", False)


@pytest.mark.parametrize(
    ("version", "path_major", "want"),
    [
        ("v0.0.0", "", True),
        ("v0.0.0", "/v2", False),
        ("v0.0.0", ".v0", True),
        ("v0.0.0-20190510104115-cbcb75029529", ".v1", True),
        ("v1.0.0", "/v2", False),
        ("v1.0.0", ".v1", True),
        ("v1.0.0", ".v1-unstable", True),
        ("v2.0.0+incompatible", "", True),
        ("v2.0.0", "", False),
        ("v2.0.0", "/v2", True),
        ("v2.0.0", ".v2", True),
    ],
)
def test_match_path_major_follows_gos_table(version: str, path_major: str, want: bool) -> None:
    assert semver.match_path_major(version, path_major) is want


# x/mod's checkTests for module.Check, less the module-path syntax checks that are not part of goship.semver.
CHECK_TABLE = [
    ("rsc.io/quote", "0.1.0", False),
    ("github.com/go-yaml/yaml", "v0.8.0", True),
    ("github.com/go-yaml/yaml", "v1.0.0", True),
    ("github.com/go-yaml/yaml", "v2.0.0", False),
    ("github.com/go-yaml/yaml", "v2.1.5", False),
    ("github.com/go-yaml/yaml", "v3.0.0", False),
    ("github.com/go-yaml/yaml/v2", "v1.0.0", False),
    ("github.com/go-yaml/yaml/v2", "v2.0.0", True),
    ("github.com/go-yaml/yaml/v2", "v2.1.5", True),
    ("github.com/go-yaml/yaml/v2", "v3.0.0", False),
    ("gopkg.in/yaml.v0", "v0.8.0", True),
    ("gopkg.in/yaml.v0", "v1.0.0", False),
    ("gopkg.in/yaml.v0", "v2.0.0", False),
    ("gopkg.in/yaml.v1", "v0.8.0", False),
    ("gopkg.in/yaml.v1", "v1.0.0", True),
    ("gopkg.in/yaml.v1", "v2.0.0", False),
    ("gopkg.in/check.v1", "v0.0.0", False),
    ("gopkg.in/check.v1", "v0.0.0-20160102150405-abcdef123456", True),
    ("gopkg.in/yaml.v2", "v1.0.0", False),
    ("gopkg.in/yaml.v2", "v2.0.0", True),
    ("gopkg.in/yaml.v2", "v2.1.5", True),
    ("gopkg.in/yaml.v2", "v3.0.0", False),
    ("rsc.io/quote", "v17.0.0", False),
    ("rsc.io/quote", "v17.0.0+incompatible", True),
]


@pytest.mark.parametrize(("path", "version", "ok"), CHECK_TABLE)
def test_a_module_version_must_fit_its_path_suffix(path: str, version: str, ok: bool) -> None:
    _, path_major, _ = semver.split_path_version(path)
    assert (semver.is_valid(version) and semver.match_path_major(version, path_major)) is ok


def test_check_path_major_says_what_it_expected_and_hints_at_the_fix() -> None:
    with pytest.raises(semver.InvalidVersionError) as caught:
        semver.check_path_major("v2.0.0", "")
    assert str(caught.value) == 'version "v2.0.0" invalid: should be v0 or v1, not v2'
    assert caught.value.hint is not None
    assert "/v2" in caught.value.hint
    with pytest.raises(semver.InvalidVersionError, match=r'"v3\.1\.0" invalid: should be v2, not v3$'):
        semver.check_path_major("v3.1.0", "/v2")
    semver.check_path_major("v3.1.0", "/v3")


@pytest.mark.parametrize(
    ("path_major", "prefix"),
    [("", ""), ("/v2", "v2"), (".v0", "v0"), (".v1-unstable", "v1"), ("/v10", "v10")],
)
def test_path_major_prefix(path_major: str, prefix: str) -> None:
    assert semver.path_major_prefix(path_major) == prefix


@pytest.mark.parametrize("path_major", ["v2", ".v-unstable", "/v2.0", "/x"])
def test_path_major_prefix_refuses_what_go_panics_on(path_major: str) -> None:
    with pytest.raises(ValueError, match="path major suffix"):
        semver.path_major_prefix(path_major)


# --- properties -----------------------------------------------------------------------------------------

numbers = st.one_of(st.integers(0, 12), st.integers(0, 10**40)).map(str)
numeric_idents = st.integers(0, 10**25).map(str)
alnum_idents = st.from_regex(r"[0-9A-Za-z-]{0,6}[A-Za-z-][0-9A-Za-z-]{0,6}", fullmatch=True)
prereleases = st.lists(st.one_of(numeric_idents, alnum_idents), min_size=1, max_size=4).map(
    lambda ids: "-" + ".".join(ids)
)
builds = st.lists(st.from_regex(r"[0-9A-Za-z-]{1,8}", fullmatch=True), min_size=1, max_size=3).map(
    lambda ids: "+" + ".".join(ids)
)
cores = st.tuples(numbers, numbers, numbers).map(lambda mmp: "v" + ".".join(mmp))
full_versions = st.builds(lambda c, p, b: c + p + b, cores, st.one_of(st.just(""), prereleases), st.just(""))
shorthands = st.one_of(
    numbers.map(lambda n: f"v{n}"), st.tuples(numbers, numbers).map(lambda t: f"v{t[0]}.{t[1]}")
)
versions = st.one_of(
    st.builds(
        lambda c, p, b: c + p + b, cores, st.one_of(st.just(""), prereleases), st.one_of(st.just(""), builds)
    ),
    shorthands,
)
not_versions = st.text(max_size=20).filter(lambda s: not semver.is_valid(s))


@given(versions)
def test_generated_versions_are_valid_and_canonical_is_idempotent(v: str) -> None:
    assert semver.is_valid(v)
    c = semver.canonical(v)
    assert semver.is_valid(c)
    assert semver.canonical(c) == c
    assert semver.compare(v, c) == 0


@given(versions, versions)
def test_compare_is_antisymmetric_and_equality_means_same_canonical(v: str, w: str) -> None:
    assert semver.compare(v, w) == -semver.compare(w, v)
    assert (semver.compare(v, w) == 0) is (semver.canonical(v) == semver.canonical(w))


@given(versions, versions, versions)
def test_compare_is_transitive(a: str, b: str, c: str) -> None:
    ab, bc, ac = semver.compare(a, b), semver.compare(b, c), semver.compare(a, c)
    if ab <= 0 and bc <= 0:
        assert ac <= 0
    if ab >= 0 and bc >= 0:
        assert ac >= 0


@given(st.integers(0, 10**60), st.integers(0, 10**60))
def test_numbers_compare_numerically_however_long(x: int, y: int) -> None:
    want = (x > y) - (x < y)
    assert semver.compare(f"v{x}", f"v{y}") == want
    assert semver.compare(f"v1.{x}", f"v1.{y}.0") == want
    assert semver.compare(f"v1.2.{x}", f"v1.2.{y}") == want
    assert semver.compare(f"v1.2.3-{x}", f"v1.2.3-{y}") == want


@given(full_versions, builds)
def test_build_metadata_is_ignored_by_compare_and_dropped_by_canonical(v: str, b: str) -> None:
    assert semver.compare(v + b, v) == 0
    assert semver.canonical(v + b) == semver.canonical(v)
    assert semver.build(v + b) == b


@given(cores, prereleases, alnum_idents)
def test_a_prerelease_precedes_its_release_and_any_longer_prerelease(core: str, pre: str, more: str) -> None:
    assert semver.compare(core + pre, core) == -1
    assert semver.compare(core + pre, f"{core}{pre}.{more}") == -1


@given(not_versions, not_versions, versions)
def test_invalid_versions_are_equal_to_each_other_and_below_every_valid_one(x: str, y: str, v: str) -> None:
    assert semver.compare(x, y) == 0
    assert semver.compare(x, v) == -1
    assert semver.compare(v, x) == 1
    assert semver.max(x, v) == semver.canonical(v)


@given(versions, versions)
def test_max_is_the_canonical_form_of_the_higher(v: str, w: str) -> None:
    assert semver.max(v, w) in (semver.canonical(v), semver.canonical(w))
    assert semver.compare(semver.max(v, w), v) >= 0
    assert semver.compare(semver.max(v, w), w) >= 0


@given(
    st.lists(st.one_of(versions, not_versions, st.sampled_from(["v1", "v1.0", "v1.0.0+b", "v1.0.0"]))),
    st.randoms(),
)
def test_sort_orders_by_precedence_then_text_whatever_the_input_order(
    items: list[str], rnd: random.Random
) -> None:
    ordered = semver.sort(items)
    assert sorted(ordered) == sorted(items)
    for a, b in itertools.pairwise(ordered):
        assert semver.compare(a, b) < 0 or (semver.compare(a, b) == 0 and a <= b)
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert semver.sort(shuffled) == ordered


timestamps = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
    lambda t: f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}"
)
revisions = st.from_regex(r"[0-9a-f]{12}", fullmatch=True)


@given(cores, st.one_of(st.just(""), prereleases), timestamps, revisions, st.booleans())
def test_a_pseudo_version_sorts_just_after_the_tag_it_builds_on(
    core: str, pre: str, stamp: str, rev: str, incompatible: bool
) -> None:
    tag = core + pre
    if pre:
        pseudo = f"{tag}.0.{stamp}-{rev}"
    else:
        head, _, patch = core.rpartition(".")
        pseudo = f"{head}.{int(patch) + 1}-0.{stamp}-{rev}"
    suffix = "+incompatible" if incompatible else ""
    assert semver.is_pseudo_version(pseudo + suffix)
    assert semver.parse_pseudo_version(pseudo + suffix) == semver.PseudoVersion(
        base=tag + suffix, timestamp=stamp, revision=rev, build=suffix
    )
    assert semver.compare(tag, pseudo) == -1
    if not pre:
        assert semver.compare(pseudo, f"{head}.{int(patch) + 1}") == -1


@given(numbers, timestamps, revisions)
def test_a_pseudo_version_without_a_tag_sorts_below_every_tag_of_its_major(
    n: str, stamp: str, rev: str
) -> None:
    pseudo = f"v{n}.0.0-{stamp}-{rev}"
    assert semver.pseudo_version_base(pseudo) == ""
    assert semver.compare(pseudo, f"v{n}.0.0") == -1


@given(st.one_of(st.text(max_size=30), st.builds(lambda p, n: f"{p}/v{n}", st.text(max_size=10), numbers)))
def test_split_path_version_always_splits_the_path_without_loss(path: str) -> None:
    prefix, path_major, ok = semver.split_path_version(path)
    assert prefix + path_major == path
    if ok and path_major.startswith("/"):
        assert semver.match_path_major(f"{semver.path_major_prefix(path_major)}.0.0", path_major)


@given(versions)
def test_a_version_fits_the_suffix_of_a_module_path_that_ends_in_its_major(v: str) -> None:
    assume(semver.build(v) != "+incompatible")
    m = semver.major(v)
    path = "example.com/mod" if m in ("v0", "v1") else f"example.com/mod/{m}"
    _, path_major, ok = semver.split_path_version(path)
    assert ok
    semver.check_path_major(v, path_major)
    assert semver.match_path_major(v, "") is (m in ("v0", "v1"))


@pytest.mark.parametrize(
    ("major", "older", "expected"),
    [
        ("", "", "v0.0.0-20190101123000-abcdef123456"),
        ("v2", "", "v2.0.0-20190101123000-abcdef123456"),
        ("v1", "v1.2.3", "v1.2.4-0.20190101123000-abcdef123456"),
        ("v1", "v1.2.99", "v1.2.100-0.20190101123000-abcdef123456"),
        ("v1", "v1.3.0-rc.1", "v1.3.0-rc.1.0.20190101123000-abcdef123456"),
        ("v2", "v2.0.0+incompatible", "v2.0.1-0.20190101123000-abcdef123456+incompatible"),
    ],
)
def test_pseudo_version_builds_each_form_as_go_does(major: str, older: str, expected: str) -> None:
    stamp = 1546345800  # 2019-01-01 12:30:00 UTC
    made = semver.pseudo_version(major, older, stamp, "abcdef123456")
    assert made == expected
    assert semver.is_pseudo_version(made)
