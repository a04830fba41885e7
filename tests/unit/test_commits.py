"""Conventional Commits 1.0.0 (conventionalcommits.org/en/v1.0.0) headers and footers, and revert commits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goship.versioning.commits import ConventionalCommit, Revert, parse_conventional, parse_revert

FEAT_SHA = "676104e2a3b4c5d6e7f8091a2b3c4d5e6f708192"

# --- the examples of the specification ---------------------------------------------------------------


def test_spec_example_breaking_change_footer_marks_commit_breaking() -> None:
    cc = parse_conventional(
        "feat: allow provided config object to extend other configs",
        "BREAKING CHANGE: `extends` key in config file is now used for extending other config files",
    )

    assert cc == ConventionalCommit(
        type="feat",
        scope=None,
        description="allow provided config object to extend other configs",
        breaking=True,
        breaking_notes=("`extends` key in config file is now used for extending other config files",),
    )


def test_spec_example_bang_marks_commit_breaking_without_notes() -> None:
    cc = parse_conventional("feat!: send an email to the customer when a product is shipped")

    assert cc is not None
    assert (cc.type, cc.scope, cc.breaking, cc.breaking_notes) == ("feat", None, True, ())
    assert cc.description == "send an email to the customer when a product is shipped"


def test_spec_example_scope_and_bang_marks_commit_breaking() -> None:
    cc = parse_conventional("feat(api)!: send an email to the customer when a product is shipped")

    assert cc is not None
    assert (cc.type, cc.scope, cc.breaking) == ("feat", "api", True)


def test_spec_example_bang_and_footer_together_keep_the_footer_text() -> None:
    cc = parse_conventional(
        "chore!: drop support for Node 6", "BREAKING CHANGE: use JavaScript features not available in Node 6."
    )

    assert cc is not None
    assert cc.breaking
    assert cc.breaking_notes == ("use JavaScript features not available in Node 6.",)


def test_spec_example_without_body_is_not_breaking() -> None:
    assert parse_conventional("docs: correct spelling of CHANGELOG") == ConventionalCommit(
        type="docs", scope=None, description="correct spelling of CHANGELOG", breaking=False
    )


def test_spec_example_scope_is_read_from_parentheses() -> None:
    cc = parse_conventional("feat(lang): add Polish language")

    assert cc is not None
    assert (cc.type, cc.scope, cc.description) == ("feat", "lang", "add Polish language")


def test_spec_example_body_with_paragraphs_and_non_breaking_footers_is_not_breaking() -> None:
    body = (
        "Introduce a request id and a reference to latest request. Dismiss\n"
        "incoming responses other than from latest request.\n"
        "\n"
        "Remove timeouts which were used to mitigate the racing issue but are\n"
        "obsolete now.\n"
        "\n"
        "Reviewed-by: Z\n"
        "Refs: #123"
    )

    cc = parse_conventional("fix: prevent racing of requests", body)

    assert cc is not None
    assert (cc.type, cc.description, cc.breaking, cc.breaking_notes) == (
        "fix",
        "prevent racing of requests",
        False,
        (),
    )


# --- header ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", ["FEAT: add export", "Feat: add export", "fEaT: add export"])
def test_type_is_case_insensitive_and_reported_lower_case(subject: str) -> None:
    cc = parse_conventional(subject)

    assert cc is not None
    assert cc.type == "feat"


def test_scope_keeps_its_case() -> None:
    cc = parse_conventional("fix(HTTP): retry on 503")

    assert cc is not None
    assert cc.scope == "HTTP"


def test_empty_scope_reads_as_no_scope() -> None:
    cc = parse_conventional("fix(): retry on 503")

    assert cc is not None
    assert cc.scope is None


def test_description_may_contain_colons_and_parentheses() -> None:
    cc = parse_conventional("fix(api): handle a: b (and c)")

    assert cc is not None
    assert (cc.scope, cc.description) == ("api", "handle a: b (and c)")


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param("feat:add export", id="missing-space-after-colon"),
        pytest.param("feat: ", id="empty-description"),
        pytest.param("feat:", id="nothing-after-colon"),
        pytest.param("feat:    ", id="only-spaces-after-colon"),
        pytest.param("add export", id="no-type"),
        pytest.param("feat add export", id="no-colon"),
        pytest.param("feat (api): add export", id="space-before-scope"),
        pytest.param("feat(api: add export", id="unclosed-scope"),
        pytest.param(": add export", id="empty-type"),
        pytest.param("Merge branch 'main' into topic", id="merge-subject"),
        pytest.param("", id="empty"),
    ],
)
def test_header_not_following_the_spec_is_not_conventional(subject: str) -> None:
    assert parse_conventional(subject) is None


# --- footers -----------------------------------------------------------------------------------------


def test_breaking_footer_with_hyphen_marks_commit_breaking() -> None:
    cc = parse_conventional("feat: new flags", "BREAKING-CHANGE: --old is gone")

    assert cc is not None
    assert cc.breaking
    assert cc.breaking_notes == ("--old is gone",)


@pytest.mark.parametrize("footer", ["breaking change: --old is gone", "Breaking Change: --old is gone"])
def test_breaking_footer_not_in_upper_case_does_not_mark_commit_breaking(footer: str) -> None:
    cc = parse_conventional("feat: new flags", footer)

    assert cc is not None
    assert not cc.breaking
    assert cc.breaking_notes == ()


def test_breaking_footer_value_runs_over_several_lines_until_the_next_footer_token() -> None:
    body = "BREAKING CHANGE: the config file moved\nto goship.yaml at the root\nRefs: #42"

    cc = parse_conventional("feat: one config file", body)

    assert cc is not None
    assert cc.breaking_notes == ("the config file moved to goship.yaml at the root",)


def test_breaking_footer_value_ends_at_a_blank_line() -> None:
    body = "BREAKING CHANGE: the config file moved\n\nThis paragraph is not part of it."

    cc = parse_conventional("feat: one config file", body)

    assert cc is not None
    assert cc.breaking_notes == ("the config file moved",)


def test_breaking_footer_value_may_start_on_the_next_line() -> None:
    cc = parse_conventional("feat: one config file", "BREAKING CHANGE:\nthe config file moved")

    assert cc is not None
    assert cc.breaking_notes == ("the config file moved",)


def test_breaking_footer_after_other_footers_is_found() -> None:
    body = "Some context.\n\nReviewed-by: Z\nBREAKING CHANGE: ids are strings\nRefs: #7"

    cc = parse_conventional("fix: ids", body)

    assert cc is not None
    assert cc.breaking
    assert cc.breaking_notes == ("ids are strings",)


def test_two_breaking_footers_give_two_notes_in_order() -> None:
    body = "BREAKING CHANGE: ids are strings\nBREAKING-CHANGE: --old is gone"

    cc = parse_conventional("feat: v2 api", body)

    assert cc is not None
    assert cc.breaking_notes == ("ids are strings", "--old is gone")


def test_breaking_footer_without_text_still_marks_commit_breaking() -> None:
    cc = parse_conventional("feat: v2 api", "BREAKING CHANGE:")

    assert cc is not None
    assert cc.breaking
    assert cc.breaking_notes == ()


# --- reverts -----------------------------------------------------------------------------------------


def test_git_revert_commit_names_the_reverted_commit_and_its_header() -> None:
    revert = parse_revert('Revert "feat: add export"', f"This reverts commit {FEAT_SHA}.")

    assert revert == Revert(reverted=(FEAT_SHA,), header="feat: add export")


def test_git_revert_without_a_hash_in_the_body_reverts_nothing_known() -> None:
    assert parse_revert('Revert "feat: add export"') == Revert(reverted=(), header="feat: add export")


def test_git_revert_of_a_revert_quotes_the_inner_revert() -> None:
    revert = parse_revert('Revert "Revert "feat: add export""', f"This reverts commit {FEAT_SHA}.")

    assert revert is not None
    assert revert.header == 'Revert "feat: add export"'


def test_spec_example_conventional_revert_names_commits_in_its_refs_footer() -> None:
    revert = parse_revert("revert: let us never again speak of the noodle incident", "Refs: 676104e, a215868")

    assert revert == Revert(
        reverted=("676104e", "a215868"), header="let us never again speak of the noodle incident"
    )


def test_conventional_revert_type_is_case_insensitive() -> None:
    revert = parse_revert("Revert(api): drop the v1 endpoint", "Refs: a215868")

    assert revert is not None
    assert revert.reverted == ("a215868",)


def test_refs_footer_with_an_issue_number_reverts_nothing_known() -> None:
    revert = parse_revert("revert: drop the v1 endpoint", "Refs: #123")

    assert revert == Revert(reverted=(), header="drop the v1 endpoint")


def test_same_hash_named_twice_is_reverted_once() -> None:
    body = f"This reverts commit {FEAT_SHA}.\n\nRefs: {FEAT_SHA}"

    revert = parse_revert('Revert "feat: add export"', body)

    assert revert is not None
    assert revert.reverted == (FEAT_SHA,)


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("feat: add export", f"Refs: {FEAT_SHA}"),
        ("fix: revert the retry change", f"This reverts commit {FEAT_SHA}."),
        ("Reverted the export", ""),
    ],
)
def test_commit_that_is_neither_git_revert_nor_revert_type_is_no_revert(subject: str, body: str) -> None:
    assert parse_revert(subject, body) is None


# --- properties --------------------------------------------------------------------------------------

TYPES = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True)
SCOPES = st.none() | st.from_regex(
    r"[A-Za-z0-9][A-Za-z0-9 ._/-]{0,15}[A-Za-z0-9]|[A-Za-z0-9]", fullmatch=True
)
DESCRIPTIONS = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=60
).filter(lambda d: not d[0].isspace())


@given(type_=TYPES, scope=SCOPES, bang=st.booleans(), description=DESCRIPTIONS)
def test_generated_header_parses_back_into_its_parts(
    type_: str, scope: str | None, bang: bool, description: str
) -> None:
    subject = f"{type_}{f'({scope})' if scope else ''}{'!' if bang else ''}: {description}"

    cc = parse_conventional(subject)

    assert cc == ConventionalCommit(
        type=type_.lower(), scope=scope, description=description.strip(), breaking=bang
    )


@given(subject=st.text(), body=st.text())
def test_arbitrary_text_never_raises(subject: str, body: str) -> None:
    parse_conventional(subject, body)
    parse_revert(subject, body)


@given(subject=st.text(), body=st.text())
def test_footer_in_the_body_never_makes_a_non_conventional_header_conventional(
    subject: str, body: str
) -> None:
    if parse_conventional(subject) is None:
        assert parse_conventional(subject, body) is None
