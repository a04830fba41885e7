"""goship.deps.gosum reads go.sum as the go command's readGoSum does: what it keeps, skips and refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goship.deps import gosum
from goship.deps.gosum import EMPTY_GO_MOD_HASH, GoSumEntry, GoSumError
from goship.errors import UsageError

UUID_ZIP = "h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0="
UUID_MOD = "h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo="
TEXT_MOD = "h1:qk8/yQo1U4JyOtJyxrt8hR5fTJ2/xgL5HyaHMxJiq0c="

UUID_SUM = f"""github.com/google/uuid v1.6.0 {UUID_ZIP}
github.com/google/uuid v1.6.0/go.mod {UUID_MOD}
golang.org/x/text v0.3.0/go.mod {TEXT_MOD}
"""


# --- what is kept ------------------------------------------------------------------------------------


def test_zip_and_go_mod_lines_become_entries_with_their_line_numbers() -> None:
    s = gosum.parse(UUID_SUM)
    assert s.entries == (
        GoSumEntry("github.com/google/uuid", "v1.6.0", False, UUID_ZIP, 1),
        GoSumEntry("github.com/google/uuid", "v1.6.0", True, UUID_MOD, 2),
        GoSumEntry("golang.org/x/text", "v0.3.0", True, TEXT_MOD, 3),
    )
    assert s.ignored == ()
    assert s.file == "go.sum"


def test_a_module_needs_its_zip_hash_and_the_graph_needs_its_go_mod_hash() -> None:
    s = gosum.parse(UUID_SUM)
    assert s.has_module("github.com/google/uuid", "v1.6.0")
    assert s.has_go_mod("github.com/google/uuid", "v1.6.0")
    # x/text is only in the module graph: its go.mod is hashed, its zip is not.
    assert s.has_go_mod("golang.org/x/text", "v0.3.0")
    assert not s.has_module("golang.org/x/text", "v0.3.0")
    assert not s.has_module("github.com/google/uuid", "v1.5.0")
    assert not s.has_go_mod("example.com/absent", "v1.0.0")


def test_lines_for_gives_both_kinds_in_file_order_and_nothing_for_unknown_modules() -> None:
    s = gosum.parse(UUID_SUM)
    assert [e.line for e in s.lines_for("github.com/google/uuid", "v1.6.0")] == [1, 2]
    assert s.lines_for("github.com/google/uuid", "v1.6.0/go.mod") == ()
    assert s.lines_for("example.com/absent", "v1.0.0") == ()


def test_duplicate_and_conflicting_lines_are_all_kept_as_go_keeps_them() -> None:
    s = gosum.parse(f"m v1.0.0 {UUID_ZIP}\nm v1.0.0 {UUID_ZIP}\nm v1.0.0 h1:other=\n")
    assert [e.line for e in s.lines_for("m", "v1.0.0")] == [1, 2, 3]


def test_a_hash_of_an_unknown_algorithm_is_kept_but_does_not_count() -> None:
    # Go's HaveSum looks only at h1: hashes; an h2: line neither satisfies nor breaks the lookup.
    s = gosum.parse("m v1.0.0 h2:future=\nm v1.0.0/go.mod h1:x=\n")
    assert [e.hash for e in s.entries] == ["h2:future=", "h1:x="]
    assert not s.has_module("m", "v1.0.0")
    assert s.has_go_mod("m", "v1.0.0")


def test_paths_versions_and_hashes_are_not_checked_when_read() -> None:
    s = gosum.parse("NOT..a/path not-a-version ???\n")
    assert s.entries == (GoSumEntry("NOT..a/path", "not-a-version", False, "???", 1),)


@pytest.mark.parametrize(
    ("version_field", "version", "is_go_mod"),
    [
        ("v1.0.0/go.mod", "v1.0.0", True),
        ("v1.0.0", "v1.0.0", False),
        ("/go.mod", "", True),
        ("v1.0.0/go.mod/go.mod", "v1.0.0/go.mod", True),
        ("v1.0.0/GO.MOD", "v1.0.0/GO.MOD", False),
    ],
)
def test_only_a_trailing_go_mod_suffix_marks_a_go_mod_hash(
    version_field: str, version: str, is_go_mod: bool
) -> None:
    (entry,) = gosum.parse(f"m {version_field} h1:x=").entries
    assert (entry.version, entry.is_go_mod) == (version, is_go_mod)


# --- what is skipped ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "separator",
    [" ", "\t", "  \t ", "\v", "\f", "\r", "\x85", "\xa0", "\u1680", "\u2000", "\u200a", "\u2028", "\u3000"],
)
def test_fields_are_separated_by_any_go_white_space(separator: str) -> None:
    (entry,) = gosum.parse(f"{separator}m{separator}v1.0.0{separator}h1:x={separator}").entries
    assert (entry.path, entry.version, entry.hash) == ("m", "v1.0.0", "h1:x=")


@pytest.mark.parametrize("separator", ["\x1c", "\x1d", "\x1e", "\x1f", "\u200b", "\ufeff"])
def test_characters_python_or_others_call_space_are_not_separators_for_go(separator: str) -> None:
    # Python's str.split() splits on U+001C..U+001F; Go's strings.Fields does not.
    with pytest.raises(GoSumError, match=r"^go\.sum:1:1: expected three fields .*found 1"):
        gosum.parse(f"m{separator}v1.0.0{separator}h1:x=")


def test_blank_and_white_space_lines_are_skipped_and_crlf_is_tolerated() -> None:
    s = gosum.parse("\n   \n\xa0\u3000\r\nm v1.0.0 h1:x=\r\n\r\nm v1.0.0/go.mod h1:y=\r\n")
    assert [(e.line, e.hash) for e in s.entries] == [(4, "h1:x="), (6, "h1:y=")]
    assert s.ignored == ()


def test_only_newline_ends_a_line_so_a_lone_cr_or_line_separator_stays_inside_it() -> None:
    # "\r" and U+2028 are white space to Go, not line breaks: this is one line of six fields.
    with pytest.raises(GoSumError, match=r"found 6"):
        gosum.parse("a v1 h1:x=\rb v1 h1:y=")
    with pytest.raises(GoSumError, match=r"found 6"):
        gosum.parse("a v1 h1:x=\u2028b v1 h1:y=")


def test_the_old_empty_go_mod_hash_is_dropped_and_its_line_remembered() -> None:
    s = gosum.parse(f"m v1.0.0/go.mod {EMPTY_GO_MOD_HASH}\nm v1.0.0 h1:x=\n")
    assert [e.line for e in s.entries] == [2]
    assert s.ignored == (1,)
    assert not s.has_go_mod("m", "v1.0.0")


def test_empty_text_is_an_empty_go_sum() -> None:
    assert gosum.parse("").entries == ()


# --- what is refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "count"),
    [("m", 1), ("m v1.0.0", 2), ("m v1.0.0 h1:x= extra", 4), ("m v1.0.0 h1:x= // comment", 5)],
)
def test_a_line_without_exactly_three_fields_is_refused_with_its_location(line: str, count: int) -> None:
    with pytest.raises(GoSumError) as info:
        gosum.parse(f"ok v1.0.0 h1:x=\n\n   {line}\n", file="svc/go.sum")
    err = info.value
    assert err.message.startswith(
        f"svc/go.sum:3:4: expected three fields MODULE VERSION[/go.mod] HASH (found {count}"
    )
    assert err.details == [err.message]
    assert err.hint is not None and "go mod tidy" in err.hint
    assert isinstance(err, UsageError)
    assert err.exit_code == 2


def test_every_malformed_line_is_reported_at_once() -> None:
    with pytest.raises(GoSumError) as info:
        gosum.parse("a\nm v1.0.0 h1:x=\nb c\n\td e f g\n")
    err = info.value
    assert err.message == "go.sum has 3 malformed lines"
    assert [d.split(": ")[0] for d in err.details] == ["go.sum:1:1", "go.sum:3:1", "go.sum:4:2"]


def test_a_huge_malformed_line_is_shortened_in_the_message() -> None:
    with pytest.raises(GoSumError) as info:
        gosum.parse("x" * 5000)
    assert len(info.value.message) < 200


# --- files -------------------------------------------------------------------------------------------


def test_parse_file_names_the_file_and_treats_a_missing_one_as_empty(tmp_path: Path) -> None:
    assert gosum.parse_file(tmp_path / "go.sum").entries == ()
    (tmp_path / "go.sum").write_text(UUID_SUM)
    s = gosum.parse_file(tmp_path / "go.sum")
    assert s.file == str(tmp_path / "go.sum")
    assert len(s.entries) == 3


def test_parse_file_keeps_invalid_utf8_inside_its_field(tmp_path: Path) -> None:
    (tmp_path / "go.sum").write_bytes(b"example.com/\xff\xfe v1.0.0 h1:x=\n")
    (entry,) = gosum.parse_file(tmp_path / "go.sum").entries
    assert entry.version == "v1.0.0"
    assert entry.path.startswith("example.com/")


def test_parse_file_reports_an_unreadable_file_as_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "go.sum").mkdir()
    with pytest.raises(GoSumError, match=r"cannot read go\.sum"):
        gosum.parse_file(tmp_path / "go.sum")


# --- properties --------------------------------------------------------------------------------------

GO_SPACE = st.sampled_from([" ", "\t", "\r", "\v", "\f", "\xa0", "\u3000", "\u2028"])
FIELD = st.text(
    alphabet=st.characters(exclude_characters=gosum.GO_WHITESPACE, exclude_categories=["Cs"]),
    min_size=1,
    max_size=12,
)
LINE_TEXT = st.lists(
    st.sampled_from(["m", "v1.0.0", "/go.mod", "h1:", "=", " ", "\t", "\r", "\xa0", "\x1c", "\n", "é"]),
    max_size=30,
).map("".join)
LOCATED = re.compile(r"^go\.sum:[1-9][0-9]*:[1-9][0-9]*: expected three fields ")


@given(st.one_of(st.text(max_size=200), LINE_TEXT))
def test_any_text_gives_a_go_sum_or_a_located_error(text: str) -> None:
    try:
        s = gosum.parse(text)
    except GoSumError as err:
        assert err.details
        assert all(LOCATED.match(d) for d in err.details)
        return
    lines = text.split("\n")
    for e in s.entries:
        assert e.path in lines[e.line - 1]
        assert s.lines_for(e.path, e.version)


@given(st.lists(st.tuples(FIELD, FIELD, st.booleans(), FIELD, GO_SPACE), max_size=8))
def test_written_entries_read_back_unchanged(rows: list[tuple[str, str, bool, str, str]]) -> None:
    rows = [r for r in rows if r[3] != EMPTY_GO_MOD_HASH]
    text = "".join(
        f"{path}{sep}{version}{'/go.mod' if is_mod else ''}{sep}{digest}\n"
        for path, version, is_mod, digest, sep in rows
    )
    s = gosum.parse(text)
    assert [(e.path, e.version, e.is_go_mod, e.hash) for e in s.entries] == [
        (p, v, m, h) if not v.endswith("/go.mod") or m else (p, v.removesuffix("/go.mod"), True, h)
        for p, v, m, h, _ in rows
    ]
    assert [e.line for e in s.entries] == list(range(1, len(rows) + 1))
