"""goship.modfile: go.mod syntax and directives as golang.org/x/mod/modfile reads them, and the
``go mod edit -json`` document. Expected values come from Go's own tests and from running Go."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goship import modfile
from goship.errors import UsageError
from goship.modfile import (
    Exclude,
    Godebug,
    GoDirective,
    Ignore,
    ModFile,
    ModFileError,
    ModuleDirective,
    Replace,
    Require,
    Retract,
    Tool,
    ToolchainDirective,
)


def gomod(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def problems(text: str, *, lax: bool = False) -> list[str]:
    """Go's lines for every problem in ``text`` (``go.mod:LINE[:COL]: message``)."""
    with pytest.raises(ModFileError) as caught:
        modfile.parse(text, lax=lax)
    return [p.go_text for p in caught.value.problems]


# --- every directive ---------------------------------------------------------------------------------


def test_a_file_with_every_directive_gives_every_entry_with_its_position() -> None:
    mod = modfile.parse(
        gomod(
            """
            module example.com/shop

            go 1.23.0
            toolchain go1.23.4
            godebug default=go1.21
            require example.com/a v1.2.3
            require (
            \texample.com/b v0.1.0 // indirect
            )
            exclude example.com/a v1.0.0
            replace example.com/a v1.2.3 => example.com/fork v1.2.4
            replace example.com/c => ../c
            retract v0.9.0 // published by mistake
            tool example.com/a/cmd/gen
            ignore ./node_modules
            """
        )
    )
    assert mod == ModFile(
        file="go.mod",
        module=ModuleDirective("example.com/shop", line=1, col=1),
        go=GoDirective("1.23.0", line=3, col=1),
        toolchain=ToolchainDirective("go1.23.4", line=4, col=1),
        godebug=(Godebug("default", "go1.21", line=5, col=1),),
        require=(
            Require("example.com/a", "v1.2.3", line=6, col=1),
            Require("example.com/b", "v0.1.0", indirect=True, line=8, col=2),
        ),
        exclude=(Exclude("example.com/a", "v1.0.0", line=10, col=1),),
        replace=(
            Replace("example.com/a", "v1.2.3", "example.com/fork", "v1.2.4", line=11, col=1),
            Replace("example.com/c", "", "../c", "", line=12, col=1),
        ),
        retract=(Retract("v0.9.0", "v0.9.0", "published by mistake", line=13, col=1),),
        tool=(Tool("example.com/a/cmd/gen", line=14, col=1),),
        ignore=(Ignore("./node_modules", line=15, col=1),),
    )
    assert mod.module_path == "example.com/shop"


def test_an_empty_file_has_no_module_and_no_entries() -> None:
    mod = modfile.parse("")
    assert mod == ModFile(file="go.mod")
    assert mod.module_path == ""


def test_every_directive_can_be_a_block_except_go_and_toolchain() -> None:
    mod = modfile.parse(
        gomod(
            """
            module (
            \tm
            )
            godebug (
            \ta=1
            \tb=2
            )
            tool (
            \tx.org/t1
            \tx.org/t2
            )
            ignore (
            \t./a
            )
            """
        )
    )
    assert mod.module_path == "m"
    assert [(g.key, g.value) for g in mod.godebug] == [("a", "1"), ("b", "2")]
    assert [t.path for t in mod.tool] == ["x.org/t1", "x.org/t2"]
    assert [(t.line, t.col) for t in mod.tool] == [(9, 2), (10, 2)]
    assert problems("go (\n\t1.21\n)\ntoolchain (\n\tgo1.21.0\n)\n") == [
        "go.mod:1: unknown block type: go",
        "go.mod:4: unknown block type: toolchain",
    ]


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("v1.2.3", "v1.2.3"),
        ("v1.2", "v1.2.0"),
        ("v1", "v1.0.0"),
        ("v1.2.3+meta", "v1.2.3"),
        ("v2.0.0+incompatible", "v2.0.0+incompatible"),
        ('"v1.4.0"', "v1.4.0"),
        ("v0.0.0-20200101000000-abcdefabcdef", "v0.0.0-20200101000000-abcdefabcdef"),
    ],
)
def test_module_versions_are_canonicalised_as_parse_without_a_fixer_does(
    written: str, canonical: str
) -> None:
    text = f"require x.org/a {written}\nexclude x.org/a {written}\nreplace x.org/b => x.org/c {written}\n"
    mod = modfile.parse(text)
    assert mod.require[0].version == mod.exclude[0].version == mod.replace[0].new_version == canonical


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "require x.org/a bad",
            'go.mod:1: require x.org/a: version "bad" invalid: must be of the form v1.2.3',
        ),
        (
            "require x.org/a 1.2.3",
            'go.mod:1: require x.org/a: version "1.2.3" invalid: must be of the form v1.2.3',
        ),
        (
            "require x.org/a v2.0.0",
            'go.mod:1: require x.org/a: version "v2.0.0" invalid: should be v0 or v1, not v2',
        ),
        (
            "require x.org/a/v2 v1.0.0",
            'go.mod:1: require x.org/a/v2: version "v1.0.0" invalid: should be v2, not v1',
        ),
        (
            "require gopkg.in/yaml.v2 v3.0.0",
            'go.mod:1: require gopkg.in/yaml.v2: version "v3.0.0" invalid: should be v2, not v3',
        ),
        ("require x.org/a/v1 v1.0.0", "go.mod:1: invalid module path"),
        ('require x.org/a "v1', "go.mod:1:20: unexpected newline in string"),
        (
            'exclude x.org/a "v1\\q"',
            'go.mod:1: exclude x.org/a: version "\\"v1\\\\q\\"" invalid: invalid syntax',
        ),
        ("require x.org/a", "go.mod:1: usage: require module/path v1.2.3"),
        ("exclude x.org/a v1 v2", "go.mod:1: usage: exclude module/path v1.2.3"),
        ("require 'x.org/a' v1.0.0", "go.mod:1: invalid quoted string: unquoted string cannot contain quote"),
        ("require `x.org/a` v1.0.0", "go.mod:1: invalid quoted string: unquoted string cannot contain quote"),
    ],
)
def test_require_and_exclude_need_a_path_and_a_version_that_fits_it(line: str, message: str) -> None:
    assert problems(line + "\n") == [message]


def test_a_v0_pseudo_version_is_accepted_for_gopkg_in_v1_paths_as_old_go_wrote_them() -> None:
    mod = modfile.parse("require gopkg.in/check.v1 v0.0.0-20161208181325-20d25e280405\n")
    assert mod.require[0].version == "v0.0.0-20161208181325-20d25e280405"


@pytest.mark.parametrize(
    ("comment", "indirect"),
    [
        ("// indirect", True),
        ("//indirect", True),
        ("//\tindirect  ", True),
        ("// indirect; kept for the build", True),
        ("// indirect;", False),  # one word that is not "indirect"
        ("// indirect because", False),
        ("// Indirect", False),
        ("// not indirect", False),
        ("", False),
    ],
)
def test_indirect_is_read_from_the_first_comment_after_the_requirement(comment: str, indirect: bool) -> None:
    block = modfile.parse(f"require (\n\tx.org/a v1.0.0 {comment}\n)\n")
    line = modfile.parse(f"require x.org/a v1.0.0 {comment}\n")
    assert block.require[0].indirect is line.require[0].indirect is indirect


def test_a_comment_on_the_line_before_a_requirement_does_not_make_it_indirect() -> None:
    assert not modfile.parse("// indirect\nrequire x.org/a v1.0.0\n").require[0].indirect


# --- replace -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "entry"),
    [
        ("x.org/a => ./a", ("x.org/a", "", "./a", "")),
        ("x.org/a v1.2 => ../a", ("x.org/a", "v1.2.0", "../a", "")),
        ("x.org/a => /abs/a", ("x.org/a", "", "/abs/a", "")),
        ("x.org/a => C:/a", ("x.org/a", "", "C:/a", "")),
        ("x.org/a => x.org/b v1", ("x.org/a", "", "x.org/b", "v1.0.0")),
        ('"x.org/a" v1.0.0 => "x.org/b/v3" v3.1.0', ("x.org/a", "v1.0.0", "x.org/b/v3", "v3.1.0")),
        # Go checks the new version against nothing: a v2 replacement for a v1 path is fine.
        ("x.org/a => x.org/b v2.0.0", ("x.org/a", "", "x.org/b", "v2.0.0")),
    ],
)
def test_replace_takes_an_optional_old_version_and_a_module_version_or_a_directory(
    line: str, entry: tuple[str, str, str, str]
) -> None:
    r = modfile.parse(f"replace {line}\n").replace[0]
    assert (r.old_path, r.old_version, r.new_path, r.new_version) == entry


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "x.org/a",
            "usage: replace module/path [v1.2.3] => other/module v1.4\n\t or replace module/path [v1.2.3] => ../local/directory",
        ),
        (
            "x.org/a => x.org/b",
            "replacement module without version must be directory path (rooted or starting with . or ..)",
        ),
        (
            "x.org/a => x.org/b@v1.0.0",
            "replacement module must match format 'path version', not 'path@version'",
        ),
        ("x.org/a => .\\b", "replacement directory appears to be Windows path (on a non-windows system)"),
        ("x.org/a => ./b v1.0.0", 'replacement module directory path "./b" cannot have version'),
        ("x.org/a/v1 => ./b", "replace x.org/a/v1: invalid module path"),
        ("x.org/a v2.0.0 => ./b", 'replace x.org/a: version "v2.0.0" invalid: should be v0 or v1, not v2'),
        (
            "x.org/a => x.org/b latest",
            'replace x.org/b: version "latest" invalid: must be of the form v1.2.3',
        ),
    ],
)
def test_replace_refuses_what_go_refuses(line: str, message: str) -> None:
    assert problems(f"replace {line}\n") == [f"go.mod:1: {message}"]


def test_directory_paths_are_recognised_in_unix_and_windows_spelling() -> None:
    for path in [".", "..", "./a", "../a", ".\\a", "..\\a", "/a", "\\a", "C:\\a", "c:"]:
        assert modfile.is_directory_path(path), path
    for path in ["a", "x.org/a", ".a", "..a", "1:", ""]:
        assert not modfile.is_directory_path(path), path


# --- retract -----------------------------------------------------------------------------------------


def test_retract_takes_single_versions_and_closed_intervals() -> None:
    mod = modfile.parse(
        gomod(
            """
            module m
            retract v1.0.0
            retract [v1.1.0, v1.2.0]
            retract ["v1.3.0" , "v1.4.0"]
            retract (
            \t[v1.5.0,v1.6.0]
            \tv1.7.0
            )
            """
        )
    )
    assert [(r.low, r.high) for r in mod.retract] == [
        ("v1.0.0", "v1.0.0"),
        ("v1.1.0", "v1.2.0"),
        ("v1.3.0", "v1.4.0"),
        ("v1.5.0", "v1.6.0"),
        ("v1.7.0", "v1.7.0"),
    ]


def test_retracted_versions_are_kept_as_written_because_go_checks_them_later() -> None:
    # Parse without a fixer leaves retract versions alone; go mod edit -json prints them as written.
    assert [(r.low, r.high) for r in modfile.parse("retract [v1, v1.1]\nretract foo\n").retract] == [
        ("v1", "v1.1"),
        ("foo", "foo"),
    ]


@pytest.mark.parametrize(
    ("text", "rationale"),
    [
        ("module m\nretract v1.0.0\n", ""),
        ("module m\n//   prefix\nretract v1.0.0\n", "prefix"),
        ("module m\n//  one\n//\n//     two\n//\n// three\nretract v1.0.0\n", "one\n\ntwo\n\nthree"),
        ("module m\nretract v1.0.0 // suffix\n", "suffix"),
        ("module m\n// prefix\nretract v1.0.0 // suffix\n", "prefix\nsuffix"),
        ("// block\nretract (\n\tv1.0.0\n)\n", "block"),
        ("// block\nretract (\n\t// line\n\tv1.0.0\n)\n", "line"),
        ("// block\nretract (\n\tv1.0.0 // suffix\n)\n", "suffix"),
        ("// separated by a blank line\n\nretract v1.0.0\n", ""),
        ("retract ( // on the paren, not the block\n\tv1.0.0\n)\n", ""),
    ],
)
def test_retract_rationale_comes_from_the_line_or_else_its_block(text: str, rationale: str) -> None:
    assert modfile.parse(text).retract[0].rationale == rationale


def test_a_blank_line_inside_a_block_counts_as_a_comment_and_hides_the_block_rationale() -> None:
    mod = modfile.parse("// block reason\nretract (\n\tv1.0.0\n\n\tv1.1.0\n)\n")
    assert [r.rationale for r in mod.retract] == ["block reason", ""]


@pytest.mark.parametrize(
    ("line", "message", "lax_keeps"),
    [
        ("retract", "expected '[' or version", []),
        ("retract [", "expected version after '['", []),
        ("retract [v1.0.0]", "expected ',' after version", []),
        ("retract [v1.0.0,", "expected version after ','", []),
        ("retract [v1.0.0, v1.1.0", "expected ']' after version", []),
        ("retract (v1.0.0, v1.1.0]", "expected '[' or version", []),
        # Go leaves room for more after the version: a dependency's go.mod may already have it.
        ("retract v1.0.0 v1.1.0", 'unexpected token after version: "v1.1.0"', [("v1.0.0", "v1.0.0")]),
        ('retract "v1\\q"', 'retract: version "\\"v1\\\\q\\"" invalid: invalid syntax', []),
    ],
)
def test_malformed_retractions_are_errors_in_the_main_module_only(
    line: str, message: str, lax_keeps: list[tuple[str, str]]
) -> None:
    text = f"module m\n{line}\n"
    assert problems(text) == [f"go.mod:2: {message}"]
    assert [(r.low, r.high) for r in modfile.parse(text, lax=True).retract] == lax_keeps


# --- module and deprecation (x/mod's moduleDeprecatedTests) -----------------------------------------


@pytest.mark.parametrize(
    ("text", "deprecated"),
    [
        ("module m", ""),
        ("// yo\nmodule m", ""),
        ("//Deprecated\nmodule m", ""),
        ("//Deprecated:blah\nmodule m", "blah"),
        ("// Deprecated: blah\nmodule m", "blah"),
        ("// deprecated: blah\nmodule m", ""),
        ("// Deprecated: one\n// two\nmodule m", "one\ntwo"),
        ("// some other comment\n// Deprecated: blah\nmodule m", ""),
        ("// module m is Deprecated: blah\nmodule m", ""),
        ("// Deprecated: a\n// Deprecated: b\nmodule m", "a\nDeprecated: b"),
        ("// Deprecated: a\n// b\n//\n// c\nmodule m", "a\nb"),
        ("// Deprecated: the next line has a space\n// \n// c\nmodule m", "the next line has a space"),
        ("module m // Deprecated: blah", "blah"),
        ("// some other comment\nmodule m // Deprecated: blah", ""),
        ("// some other comment\n//\nmodule m // Deprecated: blah", "blah"),
        ("// Deprecated: blah\nmodule (\n\tm\n)", "blah"),
        ("// intro\n//\n// Deprecated: use example.com/new\nmodule m", "use example.com/new"),
        ("// Deprecated: use <b> & c\nmodule m", "use <b> & c"),
    ],
)
def test_deprecation_is_the_paragraph_of_the_module_comments_that_starts_with_deprecated(
    text: str, deprecated: str
) -> None:
    module = modfile.parse(text).module
    assert module is not None and (module.path, module.deprecated) == ("m", deprecated)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("module", "go.mod:1: usage: module module/path"),
        ("module a b", "go.mod:1: usage: module module/path"),
        ("module a\nmodule b", "go.mod:2: repeated module statement"),
        ("module a b\nmodule c", "go.mod:1: usage: module module/path"),
        ('module "a\\qb"', "go.mod:1: invalid quoted string: invalid syntax"),
        ("module `a`", "go.mod:1: invalid quoted string: unquoted string cannot contain quote"),
    ],
)
def test_module_takes_exactly_one_path_once(text: str, message: str) -> None:
    assert problems(text)[0] == message


def test_a_module_line_with_a_bad_argument_still_counts_so_a_second_one_is_repeated() -> None:
    assert problems("module a b\nmodule c\n") == [
        "go.mod:1: usage: module module/path",
        "go.mod:2: repeated module statement",
    ]


# --- go, toolchain, godebug, tool, ignore ------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.21", "1.21.0", "1.21rc1", "1.23.4", "1.100", "2.0"])
def test_go_accepts_language_versions(version: str) -> None:
    assert modfile.parse(f"go {version}\n").go == GoDirective(version, line=1, col=1)


@pytest.mark.parametrize(
    "version", ["1.21.x", "v1.21", "1", "01.21", "1.021", "1.21-rc1", "go1.21", '"1.21"']
)
def test_go_refuses_anything_else_in_the_main_module(version: str) -> None:
    assert problems(f"go {version}\n") == [
        f"go.mod:1: invalid go version '{version}': must match format 1.23.0"
    ]


@pytest.mark.parametrize(
    ("version", "trimmed"), [("1.21.x", "1.21"), ("v1.21.3-beta", "1.21"), ("1.21-rc1", "1.21")]
)
def test_lax_parsing_trims_a_dependencys_go_version_to_major_minor(version: str, trimmed: str) -> None:
    mod = modfile.parse(f"go {version}\n", lax=True)
    assert mod.go is not None and mod.go.version == trimmed


def test_go_and_toolchain_appear_once_with_one_argument() -> None:
    assert problems("go 1.21\ngo 1.22\ngo\ntoolchain go1.22.0\ntoolchain go1.22.1\ntoolchain\n") == [
        "go.mod:2: repeated go statement",
        "go.mod:3: repeated go statement",
        "go.mod:5: repeated toolchain statement",
        "go.mod:6: repeated toolchain statement",
    ]
    assert problems("go 1.21 1.22\ntoolchain a b\n") == [
        "go.mod:1: go directive expects exactly one argument",
        "go.mod:2: toolchain directive expects exactly one argument",
    ]


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("go1.21", True),
        ("go1", True),
        ("go1.21.0-gccgo", True),
        ("default", True),
        ("go2", False),
        ("go1x", False),
        ("defaults", False),
    ],
)
def test_toolchain_names_start_with_go1_or_are_default(name: str, ok: bool) -> None:
    if ok:
        assert modfile.parse(f"toolchain {name}\n").toolchain == ToolchainDirective(name, line=1, col=1)
    else:
        assert problems(f"toolchain {name}\n") == [
            f"go.mod:1: invalid toolchain version '{name}': must match format go1.23.0 or default"
        ]


@pytest.mark.parametrize(
    ("setting", "pair"), [("a=b", ("a", "b")), ("a=b=c", ("a", "b=c")), ("a=", ("a", "")), ("=b", ("", "b"))]
)
def test_godebug_splits_at_the_first_equals_sign(setting: str, pair: tuple[str, str]) -> None:
    g = modfile.parse(f"godebug {setting}\n").godebug[0]
    assert (g.key, g.value) == pair


@pytest.mark.parametrize("setting", ["a", "a=b c", '"a=b"', "a='b'", "a=b,c", ""])
def test_godebug_needs_one_unquoted_key_value_pair(setting: str) -> None:
    assert problems(f"godebug {setting}\n") == ["go.mod:1: usage: godebug key=value"]


def test_tool_and_ignore_take_one_path_each() -> None:
    mod = modfile.parse('tool "x.org/t"\nignore "./dir with space"\n')
    assert (mod.tool[0].path, mod.ignore[0].path) == ("x.org/t", "./dir with space")
    assert problems("tool\nignore a b\n") == [
        "go.mod:1: tool directive expects exactly one argument",
        "go.mod:2: ignore directive expects exactly one argument",
    ]


def test_unknown_directives_and_block_types_are_errors_in_the_main_module() -> None:
    assert problems("module m\nsurprise attack\nx y (\n\tz\n)\nuse ./a\n") == [
        "go.mod:2: unknown directive: surprise",
        "go.mod:3: unknown block type: x y",
        "go.mod:6: unknown directive: use",
    ]


# --- lax parsing (a dependency's go.mod) ------------------------------------------------------------


def test_lax_parsing_ignores_what_only_a_main_module_cares_about() -> None:
    # x/mod's TestParseLax input, which ParseLax must read without error.
    text = gomod(
        """
        module m
        surprise attack
        x y (
        \tz
        )
        exclude v1.2.3
        replace <-!!!
        retract v1.2.3 v1.2.4
        retract (v1.2.3, v1.2.4]
        retract v1.2.3 (
        \tkey1 value1
        \tkey2 value2
        )
        require good v1.0.0
        """
    )
    mod = modfile.parse(text, lax=True)
    assert mod.module_path == "m"
    assert [r.path for r in mod.require] == ["good"]
    assert [(r.low, r.high) for r in mod.retract] == [("v1.2.3", "v1.2.3")]
    assert len(problems(text)) == 7


def test_lax_parsing_drops_toolchain_godebug_exclude_replace_and_tool() -> None:
    text = "toolchain go1.22.0\ngodebug a=b\nexclude x.org/a v1.0.0\nreplace x.org/a => ./a\ntool x.org/t\nignore ./n\n"
    mod = modfile.parse(text, lax=True)
    assert (mod.toolchain, mod.godebug, mod.exclude, mod.replace, mod.tool) == (None, (), (), (), ())
    assert [i.path for i in mod.ignore] == ["./n"]


def test_lax_parsing_still_checks_module_require_and_syntax() -> None:
    assert problems("module a\nmodule b\nrequire x.org/a bad\n", lax=True) == [
        "go.mod:2: repeated module statement",
        'go.mod:3: require x.org/a: version "bad" invalid: must be of the form v1.2.3',
    ]
    assert problems("/* no */\n", lax=True) == [
        "go.mod:1: mod files must use // comments (not /* */ comments)"
    ]


# --- syntax ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        # x/mod's TestParsePunctuation, read back through the godebug and tool directives' errors.
        ("tool a[b]c{d}e,", "tool a [ b ] c { d } e ,"),
        ("tool (x)", "tool ( x )"),
        ("tool ( ) x", "tool ( ) x"),
    ],
)
def test_brackets_braces_and_commas_are_tokens_of_their_own(text: str, tokens: str) -> None:
    with pytest.raises(ModFileError) as caught:
        modfile.parse(text + "\n")
    assert caught.value.problems[0].found == tokens


def test_an_empty_block_is_a_block_with_no_lines() -> None:
    assert modfile.parse("require ()\nrequire (\n)\n") == ModFile(file="go.mod")


def test_comments_are_whole_line_or_end_of_line_and_may_follow_tokens_without_space() -> None:
    mod = modfile.parse("module x.org/m// Deprecated: glued\n// before\nrequire x.org/a v1.0.0//indirect\n")
    assert mod.module == ModuleDirective("x.org/m", "glued", line=1, col=1)
    assert mod.require[0].indirect


def test_a_crlf_file_reads_like_an_lf_file() -> None:
    text = "module m // Deprecated: x\r\nrequire (\r\n\tx.org/a v1.0.0 // indirect\r\n)\r\n"
    assert modfile.parse(text) == modfile.parse(text.replace("\r\n", "\n"))


@pytest.mark.parametrize(
    ("quoted", "value"),
    [
        (r'"plain"', "plain"),
        (r'"tab\there"', "tab\there"),
        (r'"\x41\101\u00e9\U0001F600"', "AAé😀"),
        (r'"\"\\"', '"\\'),
        (r'"\xe2\x82\xac"', "€"),  # bytes that spell UTF-8 become the character
        (r'"\xff"', "\udcff"),  # a byte that does not stays a byte (surrogate-escaped)
        ('"\x01raw control"', "\x01raw control"),
    ],
)
def test_interpreted_strings_unquote_with_go_escapes(quoted: str, value: str) -> None:
    assert modfile.parse(f"tool {quoted}\n").tool[0].path == value


@pytest.mark.parametrize(
    "quoted", [r'"\q"', r'"\'"', r'"\x4"', r'"\400"', r'"\uD800"', r'"\U00110000"', r'"\8"']
)
def test_bad_escapes_are_invalid_syntax(quoted: str) -> None:
    assert problems(f"tool {quoted}\n") == ["go.mod:1: invalid quoted string: invalid syntax"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("module m\n/* block */\n", "go.mod:2: mod files must use // comments (not /* */ comments)"),
        ("module m/* x */\n", "go.mod:1:9: mod files must use // comments (not /* */ comments)"),
        ("module m\x00\n", "go.mod:1:9: unexpected input character '\\x00'"),
        ("module\vm\n", "go.mod:1:7: unexpected input character '\\v'"),
        ("module\u00a0m\n", "go.mod:1:7: unexpected input character '\\u00a0'"),
        ("\ufeffmodule m\n", "go.mod:1: unexpected input character '\\ufeff'"),
        ('module "m\nrequire x v1\n', "go.mod:1:10: unexpected newline in string"),
        ('\n\nmodule "m', "go.mod:3:8: unexpected EOF in string"),
        ("module `m", "go.mod:1:8: unexpected EOF in string"),
        (
            "require (\n\tx.org/a v1.0.0\n",
            "go.mod:3: syntax error (unterminated block started at go.mod:1:1)",
        ),
        ("  require (\n", "go.mod:2: syntax error (unterminated block started at go.mod:1:3)"),
        ("require (\n) x\n", "go.mod:2:4: syntax error (expected newline after closing paren)"),
        ("require (\n)  x.org/a\n", "go.mod:2:11: syntax error (expected newline after closing paren)"),
    ],
)
def test_syntax_errors_stop_parsing_at_go_s_position(text: str, message: str) -> None:
    assert problems(text) == [message]


def test_a_backslash_carries_a_string_onto_the_next_line_where_unquoting_refuses_it() -> None:
    assert problems('tool "a\\\nb"\n') == ["go.mod:1: invalid quoted string: invalid syntax"]


def test_columns_count_characters_not_bytes() -> None:
    assert problems("// é\nmodule é x\n") == ["go.mod:2: usage: module module/path"]
    assert (
        problems("require (\n\té.org/a v1.0.0\n\tb\n)\n")[0]
        == "go.mod:3:2: usage: require module/path v1.2.3"
    )
    assert problems("éé /* x */\n") == ["go.mod:1:4: mod files must use // comments (not /* */ comments)"]


# --- errors ------------------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    with pytest.raises(ModFileError) as caught:
        modfile.parse("module m\ngo 1.21.x\nrequire (\n\tx.org/a bad\n\tx.org/b\n)\n", file="svc/go.mod")
    err = caught.value
    assert isinstance(err, UsageError) and err.exit_code == 2
    assert err.message == "errors parsing svc/go.mod"
    assert err.details == [
        "svc/go.mod:2: invalid go version '1.21.x': must match format 1.23.0",
        'svc/go.mod:4:2: require x.org/a: version "bad" invalid: must be of the form v1.2.3',
        'svc/go.mod:5:2: usage: require module/path v1.2.3 (found "require x.org/b")',
    ]
    assert [(p.line, p.col) for p in err.problems] == [(2, 1), (4, 2), (5, 2)]


def test_one_problem_is_the_message_itself_and_says_what_was_found() -> None:
    with pytest.raises(ModFileError) as caught:
        modfile.parse("replace x.org/a => x.org/b\n")
    assert caught.value.message == (
        "go.mod:1: replacement module without version must be directory path (rooted or starting with . or ..)"
        ' (found "replace x.org/a => x.org/b")'
    )
    assert caught.value.details == []


def test_a_major_version_mismatch_comes_with_a_hint() -> None:
    with pytest.raises(ModFileError) as caught:
        modfile.parse("require x.org/a v2.0.0\n")
    assert caught.value.hint is not None and "/v2" in caught.value.hint


def test_parse_file_names_the_file_and_reads_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "go.mod"
    path.write_bytes(b'module \xff/m\ntool "x\\xff"\n')
    mod = modfile.parse_file(path)
    assert mod.file == str(path)
    assert mod.module_path == "\udcff/m"
    assert modfile.edit_json_text(mod).splitlines()[2] == '\t\t"Path": "\\ufffd/m"'
    path.write_text("module\n")
    with pytest.raises(ModFileError) as caught:
        modfile.parse_file(path, file="services/a/go.mod")
    assert caught.value.message == 'services/a/go.mod:1: usage: module module/path (found "module")'


def test_parse_file_reports_a_missing_file_as_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ModFileError, match=r"cannot read .*go\.mod"):
        modfile.parse_file(tmp_path / "go.mod")


# --- go mod edit -json -------------------------------------------------------------------------------


def test_edit_json_has_go_s_keys_in_go_s_order_and_omits_what_go_omits() -> None:
    mod = modfile.parse("module m\nrequire x.org/a v1.0.0\n")
    assert modfile.edit_json(mod) == {
        "Module": {"Path": "m"},
        "Require": [{"Path": "x.org/a", "Version": "v1.0.0"}],
        "Exclude": None,
        "Replace": None,
        "Retract": None,
        "Tool": None,
        "Ignore": None,
    }
    full = modfile.edit_json(
        modfile.parse(
            "// Deprecated: no\nmodule m\ngo 1.22\ntoolchain go1.22.1\ngodebug a=b\n"
            "require x.org/a v1.0.0 // indirect\nexclude x.org/a v0.1.0\nreplace x.org/a => ./a\n"
            "retract [v1.0.0, v1.1.0] // oops\nretract v0.1.0\ntool x.org/t\nignore ./i\n"
        )
    )
    assert list(full) == [
        "Module",
        "Go",
        "Toolchain",
        "GoDebug",
        "Require",
        "Exclude",
        "Replace",
        "Retract",
        "Tool",
        "Ignore",
    ]
    assert full["Module"] == {"Path": "m", "Deprecated": "no"}
    assert full["Require"] == [{"Path": "x.org/a", "Version": "v1.0.0", "Indirect": True}]
    assert full["Replace"] == [{"Old": {"Path": "x.org/a"}, "New": {"Path": "./a"}}]
    assert full["Retract"] == [
        {"Low": "v1.0.0", "High": "v1.1.0", "Rationale": "oops"},
        {"Low": "v0.1.0", "High": "v0.1.0"},
    ]


def test_edit_json_drops_duplicates_as_go_mod_edit_does() -> None:
    mod = modfile.parse(
        gomod(
            """
            exclude x.org/a v1.0.0 // a
            exclude x.org/a v1.0.0 // b
            replace x.org/a v1.0.0 => ./first
            replace x.org/b => ./b
            replace x.org/a v1.0.0 => ./last
            tool x.org/t
            tool x.org/t
            ignore ./i
            ignore ./i
            require x.org/r v1.0.0
            require x.org/r v1.0.0
            retract v1.0.0
            retract v1.0.0
            """
        )
    )
    doc = modfile.edit_json(mod)
    assert doc["Exclude"] == [{"Path": "x.org/a", "Version": "v1.0.0"}]
    assert doc["Replace"] == [
        {"Old": {"Path": "x.org/b"}, "New": {"Path": "./b"}},
        {"Old": {"Path": "x.org/a", "Version": "v1.0.0"}, "New": {"Path": "./last"}},
    ]
    assert doc["Tool"] == [{"Path": "x.org/t"}] and doc["Ignore"] == [{"Path": "./i"}]
    # Requirements and retractions are never deduplicated.
    require, retract = doc["Require"], doc["Retract"]
    assert isinstance(require, list) and isinstance(retract, list) and (len(require), len(retract)) == (2, 2)
    assert len(mod.exclude) == 2 and len(mod.replace) == 3  # the parse result keeps them all


def test_edit_json_drops_entries_with_an_empty_path_or_key() -> None:
    mod = modfile.parse('require "" v1.0.0\nexclude "" v1.0.0\nreplace "" => ./x\ngodebug =v\nretract ""\n')
    assert (
        len(mod.require) == len(mod.exclude) == len(mod.replace) == len(mod.godebug) == len(mod.retract) == 1
    )
    assert modfile.edit_json(mod) == {
        "Module": {"Path": ""},
        "Require": None,
        "Exclude": None,
        "Replace": None,
        "Retract": None,
        "Tool": None,
        "Ignore": None,
    }


def test_edit_json_text_is_go_s_bytes_tabs_escapes_and_final_newline() -> None:
    mod = modfile.parse('// Deprecated: use <new> & "more"\nmodule "é\\u2028"\n')
    assert modfile.edit_json_text(mod) == (
        "{\n"
        '\t"Module": {\n'
        '\t\t"Path": "é\\u2028",\n'
        '\t\t"Deprecated": "use \\u003cnew\\u003e \\u0026 \\"more\\""\n'
        "\t},\n"
        '\t"Require": null,\n'
        '\t"Exclude": null,\n'
        '\t"Replace": null,\n'
        '\t"Retract": null,\n'
        '\t"Tool": null,\n'
        '\t"Ignore": null\n'
        "}\n"
    )
    assert json.loads(modfile.edit_json_text(mod)) == modfile.edit_json(mod)


def test_for_plain_ascii_json_dumps_with_tabs_already_matches_go() -> None:
    mod = modfile.parse("module m\ngo 1.22\nrequire x.org/a v1.0.0 // indirect\n")
    assert json.dumps(modfile.edit_json(mod), indent="\t") + "\n" == modfile.edit_json_text(mod)


# --- properties --------------------------------------------------------------------------------------

GO_MOD_PIECES = st.sampled_from(
    [
        "module", "go", "toolchain", "godebug", "require", "exclude", "replace", "retract", "tool", "ignore",
        "x.org/a", "x.org/a/v2", '"x.org/q"', '"\\x41\\', "`raw`", "v1.2.3", "v1.2", "v2.0.0+incompatible",
        "1.21", "go1.22", "a=b", "=>", "./d", "[", "]", ",", "(", ")", "{", "//", "// indirect",
        "// Deprecated: x", "/*", " ", "\t", "\n", "\r\n", "é", "\u00a0", "\x00", '"', "\\",
    ]
)  # fmt: skip


@settings(max_examples=400)
@given(st.one_of(st.text(), st.lists(GO_MOD_PIECES).map(" ".join), st.lists(GO_MOD_PIECES).map("".join)))
def test_any_text_gives_a_modfile_or_a_modfile_error(text: str) -> None:
    for lax in (False, True):
        try:
            mod = modfile.parse(text, lax=lax)
        except ModFileError as err:
            assert err.problems and all(p.line >= 1 and p.col >= 1 for p in err.problems)
        else:
            assert list(json.loads(modfile.edit_json_text(mod))) == list(modfile.edit_json(mod))


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["x.org/a", "x.org/b", "x.org/c/v2"]),
            st.sampled_from(["v1.0.0", "v2.0.0", "v1.2"]),
        )
    )
)
def test_valid_requirements_always_parse_in_order_with_canonical_versions(
    reqs: list[tuple[str, str]],
) -> None:
    ok = [(p, v) for p, v in reqs if (p.endswith("/v2")) == v.startswith("v2")]
    text = "require (\n" + "".join(f"\t{p} {v}\n" for p, v in ok) + ")\n"
    mod = modfile.parse(text)
    assert [(r.path, r.version, r.line) for r in mod.require] == [
        (p, "v1.2.0" if v == "v1.2" else v, i + 2) for i, (p, v) in enumerate(ok)
    ]
