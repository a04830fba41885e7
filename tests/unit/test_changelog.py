"""Release notes from classified commits, and CHANGELOG.md in Keep a Changelog 1.1.0 form."""

from __future__ import annotations

import hashlib

import pytest

from goship.errors import CheckFailedError
from goship.git import Commit
from goship.versioning.bump import BumpPolicy, CommitBump, classify_commits
from goship.versioning.changelog import (
    Entry,
    ReleaseNotes,
    build_notes,
    commit_url_for,
    prepend_release,
    render_notes,
)

POLICY = BumpPolicy(bump_types={"feat": "minor", "fix": "patch", "perf": "patch", "revert": "patch"})
BOTS = ("dependabot[bot]", "renovate[bot]")
GITHUB = "https://github.com/acme/shop/commit/{sha}"


def _sha(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()


def _commit(subject: str, body: str = "", *, author: str = "Ada") -> Commit:
    return Commit(
        sha=_sha(subject + body),
        parents=(_sha(f"parent of {subject}"),),
        author_name=author,
        author_email=f"{author.lower()}@example.com",
        subject=subject,
        body=body,
    )


def _classified(*commits: Commit) -> list[CommitBump]:
    """``commits`` as git log lists them: newest first."""
    return classify_commits(commits, POLICY, below_v1=False)


def _notes(*commits: Commit, hidden_types: tuple[str, ...] = ()) -> ReleaseNotes:
    return build_notes(
        _classified(*commits), title="v1.4.0", date="2024-05-02", bots=BOTS, hidden_types=hidden_types
    )


def _section(notes: ReleaseNotes, title: str) -> list[str]:
    return [e.text for e in dict(notes.sections).get(title, ())]


# --- build_notes -------------------------------------------------------------------------------------


def test_sections_come_in_fixed_order_with_breaking_changes_first() -> None:
    notes = _notes(
        _commit("refactor: split the planner"),
        _commit("perf: cache the index"),
        _commit("fix: handle empty input"),
        _commit("feat: add export"),
        _commit("feat!: drop --old", "BREAKING CHANGE: use --new instead"),
    )

    assert [title for title, _ in notes.sections] == [
        "Breaking changes",
        "Features",
        "Fixes",
        "Performance",
        "Other",
    ]


def test_breaking_change_entry_carries_the_footer_text() -> None:
    notes = _notes(_commit("feat(cli)!: drop --old", "BREAKING CHANGE: use --new instead"))

    assert _section(notes, "Breaking changes") == ["**cli:** drop --old: use --new instead"]
    assert _section(notes, "Features") == []


def test_breaking_change_with_several_footers_joins_their_texts() -> None:
    notes = _notes(
        _commit("feat: v2 api", "BREAKING CHANGE: ids are strings\nBREAKING-CHANGE: --old is gone")
    )

    assert _section(notes, "Breaking changes") == ["v2 api: ids are strings; --old is gone"]


def test_breaking_change_with_bang_only_is_listed_by_its_description() -> None:
    assert _section(_notes(_commit("feat!: drop --old")), "Breaking changes") == ["drop --old"]


def test_scope_is_shown_in_bold_before_the_description() -> None:
    assert _section(_notes(_commit("fix(api): retry on 503")), "Fixes") == ["**api:** retry on 503"]


def test_entries_in_a_section_list_the_oldest_commit_first() -> None:
    notes = _notes(_commit("feat: third"), _commit("feat: second"), _commit("feat: first"))

    assert _section(notes, "Features") == ["first", "second", "third"]


def test_entries_keep_their_commit_sha() -> None:
    feat = _commit("feat: add export")

    (entry,) = dict(_notes(feat).sections)["Features"]

    assert entry == Entry("add export", feat.sha)


def test_types_without_a_section_of_their_own_go_under_other() -> None:
    assert _section(_notes(_commit("refactor: split the planner")), "Other") == ["split the planner"]


def test_hidden_types_are_left_out() -> None:
    notes = _notes(_commit("docs: explain tags"), _commit("chore: tidy"), hidden_types=("docs", "chore"))

    assert notes.sections == ()
    assert notes.empty


def test_hidden_type_that_is_breaking_is_still_listed() -> None:
    notes = _notes(_commit("chore!: drop Go 1.20", "BREAKING CHANGE: needs Go 1.22"), hidden_types=("chore",))

    assert _section(notes, "Breaking changes") == ["drop Go 1.20: needs Go 1.22"]


def test_non_conventional_commits_that_bump_nothing_are_left_out() -> None:
    assert _notes(_commit("Add export"), _commit("wip")).empty


def test_revert_and_reverted_commit_in_the_same_release_are_both_left_out() -> None:
    feat = _commit("feat: add export")
    revert = _commit('Revert "feat: add export"', f"This reverts commit {feat.sha}.")

    assert _notes(revert, feat).empty


def test_git_revert_of_a_released_commit_is_listed_under_other_by_its_subject() -> None:
    revert = _commit('Revert "feat: add export"', f"This reverts commit {_sha('released')}.")

    assert _section(_notes(revert), "Other") == ['Revert "feat: add export"']


def test_bot_dependency_bumps_fold_into_one_dependencies_line() -> None:
    notes = _notes(
        _commit("fix(deps): update module github.com/foo/bar to v1.2.3", author="renovate[bot]"),
        _commit("feat: add export"),
        _commit("build(deps): bump golang.org/x/net from 0.30.0 to 0.31.0", author="dependabot[bot]"),
        hidden_types=("build",),
    )

    assert _section(notes, "Fixes") == []
    assert _section(notes, "Other") == [
        "**Dependencies:** golang.org/x/net 0.30.0 → 0.31.0, github.com/foo/bar → v1.2.3 (2 updates)"
    ]
    assert dict(notes.sections)["Other"][0].sha is None


def test_one_dependency_bump_is_counted_in_the_singular() -> None:
    notes = _notes(
        _commit("build(deps): bump golang.org/x/net from 0.30.0 to 0.31.0", author="dependabot[bot]")
    )

    assert _section(notes, "Other") == ["**Dependencies:** golang.org/x/net 0.30.0 → 0.31.0 (1 update)"]


def test_the_same_dependency_bump_twice_is_listed_once() -> None:
    bump = "build(deps): bump golang.org/x/net from 0.30.0 to 0.31.0"
    notes = _notes(_commit(bump, "again"), _commit(bump), hidden_types=())

    assert _section(notes, "Other") == ["**Dependencies:** golang.org/x/net 0.30.0 → 0.31.0 (1 update)"]


def test_dependencies_line_comes_after_the_other_entries() -> None:
    notes = _notes(
        _commit("build(deps): bump golang.org/x/net from 0.30.0 to 0.31.0", author="dependabot[bot]"),
        _commit("refactor: split the planner"),
    )

    assert _section(notes, "Other") == [
        "split the planner",
        "**Dependencies:** golang.org/x/net 0.30.0 → 0.31.0 (1 update)",
    ]


def test_breaking_dependency_bump_is_not_folded() -> None:
    notes = _notes(
        _commit(
            "fix(deps)!: update module github.com/foo/bar to v2.0.0",
            "BREAKING CHANGE: bar v2 needs Go 1.22",
            author="renovate[bot]",
        )
    )

    assert _section(notes, "Breaking changes") == [
        "**deps:** update module github.com/foo/bar to v2.0.0: bar v2 needs Go 1.22"
    ]
    assert _section(notes, "Other") == []


def test_commit_by_a_person_outside_the_deps_scope_is_not_a_dependency_bump() -> None:
    notes = _notes(_commit("fix: bump the retry limit to 5"))

    assert _section(notes, "Fixes") == ["bump the retry limit to 5"]


# --- render_notes ------------------------------------------------------------------------------------


def _realistic_notes() -> tuple[ReleaseNotes, dict[str, Commit]]:
    commits = {
        "breaking": _commit("feat(api)!: return ids as strings", "BREAKING CHANGE: clients must parse ids"),
        "feat": _commit("feat: add CSV export"),
        "fix": _commit("fix(cli): exit 1 when the tree is dirty"),
        "deps": _commit("build(deps): bump golang.org/x/net from 0.30.0 to 0.31.0", author="dependabot[bot]"),
        "docs": _commit("docs: explain tags"),
    }
    newest_first = [commits[k] for k in ("docs", "deps", "fix", "feat", "breaking")]
    notes = build_notes(
        _classified(*newest_first),
        title="services/orders/v1.4.0",
        date="2024-05-02",
        bots=BOTS,
        hidden_types=("docs",),
    )
    return notes, commits


def test_rendered_notes_with_commit_links() -> None:
    notes, c = _realistic_notes()

    rendered = render_notes(notes, commit_url=GITHUB)

    def link(key: str) -> str:
        sha = c[key].sha
        return f"([{sha[:7]}](https://github.com/acme/shop/commit/{sha}))"

    assert rendered == (
        "## [services/orders/v1.4.0] - 2024-05-02\n"
        "\n"
        "### Breaking changes\n"
        "\n"
        f"- **api:** return ids as strings: clients must parse ids {link('breaking')}\n"
        "\n"
        "### Features\n"
        "\n"
        f"- add CSV export {link('feat')}\n"
        "\n"
        "### Fixes\n"
        "\n"
        f"- **cli:** exit 1 when the tree is dirty {link('fix')}\n"
        "\n"
        "### Other\n"
        "\n"
        "- **Dependencies:** golang.org/x/net 0.30.0 → 0.31.0 (1 update)\n"
    )


def test_rendered_notes_without_a_url_template_show_short_shas() -> None:
    feat = _commit("feat: add CSV export")
    notes = build_notes(_classified(feat), title="v1.4.0", date="2024-05-02")

    assert (
        render_notes(notes)
        == f"## [v1.4.0] - 2024-05-02\n\n### Features\n\n- add CSV export ({feat.sha[:7]})\n"
    )


def test_rendered_notes_without_heading_start_at_the_first_section() -> None:
    notes = ReleaseNotes(title="v1.4.0", date="2024-05-02", sections=(("Fixes", (Entry("retry on 503"),)),))

    assert render_notes(notes, heading=False) == "### Fixes\n\n- retry on 503\n"


def test_rendered_empty_notes_say_there_is_nothing_notable() -> None:
    notes = ReleaseNotes(title="v1.4.1", date="2024-05-03", sections=())

    assert render_notes(notes) == "## [v1.4.1] - 2024-05-03\n\nNo notable changes.\n"


# --- prepend_release ---------------------------------------------------------------------------------

V140 = "## [v1.4.0] - 2024-05-02\n\n### Features\n\n- add CSV export\n"
V130 = "## [v1.3.0] - 2024-04-01\n\n### Fixes\n\n- retry on 503\n"
HEADER = (
    "# Changelog\n"
    "\n"
    "All notable changes to this project are documented in this file.\n"
    "\n"
    "The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),\n"
    "and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).\n"
)


@pytest.mark.parametrize("existing", [None, "", "\n  \n"])
def test_new_changelog_starts_with_the_keep_a_changelog_header(existing: str | None) -> None:
    assert prepend_release(existing, V140, title="v1.4.0") == f"{HEADER}\n{V140}"


def test_new_release_goes_above_older_releases() -> None:
    existing = f"{HEADER}\n{V130}"

    assert prepend_release(existing, V140, title="v1.4.0") == f"{HEADER}\n{V140}\n{V130}"


def test_new_release_goes_below_unreleased_and_above_older_releases() -> None:
    unreleased = "## [Unreleased]\n\n- work in progress\n"
    existing = f"{HEADER}\n{unreleased}\n{V130}"

    assert prepend_release(existing, V140, title="v1.4.0") == f"{HEADER}\n{unreleased}\n{V140}\n{V130}"


def test_new_release_goes_at_the_end_when_only_unreleased_exists() -> None:
    existing = f"{HEADER}\n## [Unreleased]\n"

    assert prepend_release(existing, V140, title="v1.4.0") == f"{HEADER}\n## [Unreleased]\n\n{V140}"


def test_same_release_title_twice_is_refused() -> None:
    existing = prepend_release(None, V140, title="v1.4.0")

    with pytest.raises(CheckFailedError, match=r"already has a section for v1\.4\.0") as info:
        prepend_release(existing, V140, title="v1.4.0")

    assert info.value.exit_code == 1


def test_older_release_with_a_title_that_starts_like_the_new_one_is_no_duplicate() -> None:
    rc = "## [v1.4.0-rc.1] - 2024-04-20\n"

    assert prepend_release(f"{HEADER}\n{rc}", V140, title="v1.4.0") == f"{HEADER}\n{V140}\n{rc}"


# --- commit_url_for ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "template"),
    [
        ("git@github.com:o/r.git", "https://github.com/o/r/commit/{sha}"),
        ("https://github.com/o/r.git", "https://github.com/o/r/commit/{sha}"),
        ("https://github.com/o/r", "https://github.com/o/r/commit/{sha}"),
        ("https://token@github.com/o/r.git", "https://github.com/o/r/commit/{sha}"),
        ("ssh://git@github.com/o/r.git", "https://github.com/o/r/commit/{sha}"),
        (
            "ssh://git@gitlab.example.com:2222/g/sub/r.git",
            "https://gitlab.example.com/g/sub/r/-/commit/{sha}",
        ),
        ("https://gitlab.com/g/r.git", "https://gitlab.com/g/r/-/commit/{sha}"),
        ("git@bitbucket.org:o/r.git", "https://bitbucket.org/o/r/commits/{sha}"),
    ],
)
def test_commit_url_template_from_a_forge_remote(remote: str, template: str) -> None:
    assert commit_url_for(remote) == template


@pytest.mark.parametrize("remote", [None, "", "/srv/git/r.git", "../r", "file:///srv/git/r.git"])
def test_commit_url_template_is_unknown_for_a_local_remote(remote: str | None) -> None:
    assert commit_url_for(remote) is None
