"""goship.deps.vendor reads vendor/modules.txt as the go command does and finds its inconsistencies with
go.mod, one finding per module, for the same reasons as Go's checkVendorConsistency."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goship.deps import vendor
from goship.deps.vendor import IgnoredLine, Replacement, Requirement, VendorList, VendorModule

# What 'go mod vendor' (go 1.22) writes for example.com/app, whose go.mod is GO_MOD below.
MODULES_TXT = """\
# example.com/lib v1.0.0 => ../lib
## explicit; go 1.21
example.com/lib
example.com/lib/sub
# example.com/other v0.0.0-00010101000000-000000000000 => ../other
## explicit; go 1.20
example.com/other
# github.com/google/uuid v1.6.0
## explicit
github.com/google/uuid
# example.com/other => ../other
# example.com/unused v1.2.3 => ../nowhere
"""
GO_MOD = """\
module example.com/app

go 1.22

require (
\texample.com/lib v1.0.0
\texample.com/other v0.0.0-00010101000000-000000000000
\tgithub.com/google/uuid v1.6.0
)

replace example.com/lib v1.0.0 => ../lib

replace example.com/other => ../other

replace example.com/unused v1.2.3 => ../nowhere
"""
REQUIRES = [
    Requirement("example.com/lib", "v1.0.0", 6),
    Requirement("example.com/other", "v0.0.0-00010101000000-000000000000", 7),
    Requirement("github.com/google/uuid", "v1.6.0", 8),
]
REPLACES = [
    Replacement("example.com/lib", "v1.0.0", "../lib", "", 11),
    Replacement("example.com/other", "", "../other", "", 13),
    Replacement("example.com/unused", "v1.2.3", "../nowhere", "", 15),
]
OTHER_V = "v0.0.0-00010101000000-000000000000"


def check(
    modules_txt: str = MODULES_TXT,
    requires: list[Requirement] = REQUIRES,
    replaces: list[Replacement] = REPLACES,
    *,
    go_version: str = "1.22",
    main_module: str = "example.com/app",
) -> list[vendor.VendorFinding]:
    return vendor.check_consistency(
        requires, replaces, vendor.parse(modules_txt), go_version=go_version, main_module=main_module
    )


def kinds(findings: list[vendor.VendorFinding]) -> dict[str, list[str]]:
    return {f.path: [i.kind for i in f.issues] for f in findings}


# --- reading what go mod vendor writes --------------------------------------------------------------


def test_modules_replacements_annotations_and_packages_are_read() -> None:
    v = vendor.parse(MODULES_TXT)
    assert v.modules == (
        VendorModule(
            "example.com/lib",
            "v1.0.0",
            "../lib",
            "",
            True,
            "1.21",
            ("example.com/lib", "example.com/lib/sub"),
            1,
        ),
        VendorModule("example.com/other", OTHER_V, "../other", "", True, "1.20", ("example.com/other",), 5),
        VendorModule("github.com/google/uuid", "v1.6.0", "", "", True, "", ("github.com/google/uuid",), 8),
        VendorModule("example.com/other", "", "../other", "", False, "", (), 11),
        VendorModule("example.com/unused", "v1.2.3", "../nowhere", "", False, "", (), 12),
    )
    assert v.ignored == ()


def test_lookups_follow_go_build_list_replacements_and_packages() -> None:
    v = vendor.parse(MODULES_TXT)
    assert v.get("example.com/lib", "v1.0.0") is v.modules[0]
    assert v.get("example.com/other", "") is v.modules[3]
    assert v.get("example.com/lib", "v9.9.9") is None
    assert [m.path for m in v.versions_of("example.com/other")] == ["example.com/other"] * 2
    assert [(m.path, m.version) for m in v.build_list] == [
        ("example.com/lib", "v1.0.0"),
        ("example.com/other", OTHER_V),
        ("github.com/google/uuid", "v1.6.0"),
    ]
    assert [m.line for m in v.replaced] == [1, 5, 11, 12]
    assert v.selected_version("example.com/lib") == "v1.0.0"
    assert v.selected_version("example.com/unused") is None
    module = v.package_module("example.com/lib/sub")
    assert module is not None and module.path == "example.com/lib"
    assert v.package_module("example.com/lib/absent") is None


def test_a_replacement_by_another_module_version_is_read() -> None:
    (m,) = vendor.parse("# a.com/x v1.0.0 => b.com/fork v1.2.0\n## explicit\na.com/x\n").modules
    assert (m.replacement_path, m.replacement_version, m.replaced) == ("b.com/fork", "v1.2.0", True)
    assert m.describe() == "v1.0.0 => b.com/fork v1.2.0, explicit"


def test_annotations_are_united_across_lines_and_unknown_ones_are_reserved() -> None:
    text = "# a.com/x v1.0.0\n## go 1.21\n## future-thing;  explicit ;go 1.22 ; more\na.com/x\n"
    (m,) = vendor.parse(text).modules
    assert (m.explicit, m.go_version) == (True, "1.22")
    assert vendor.parse(text).ignored == ()


def test_a_go_annotation_keeps_whatever_follows_go_and_a_space() -> None:
    (m,) = vendor.parse("# a.com/x v1.0.0\n## go  1.21rc1\n").modules
    assert m.go_version == " 1.21rc1"


def test_repeated_module_lines_merge_as_in_go() -> None:
    text = "# a.com/x v1.0.0\n## explicit\na.com/x\n# a.com/x v1.0.0 => ../x\na.com/x/y\na.com/x\n"
    (m,) = vendor.parse(text).modules
    assert m == VendorModule("a.com/x", "v1.0.0", "../x", "", True, "", ("a.com/x", "a.com/x/y"), 1)


def test_crlf_line_endings_are_tolerated() -> None:
    v = vendor.parse(MODULES_TXT.replace("\n", "\r\n"))
    assert [m.path for m in v.build_list] == [
        "example.com/lib",
        "example.com/other",
        "github.com/google/uuid",
    ]
    assert v.modules[0].explicit and v.modules[0].go_version == "1.21"


def test_the_build_list_follows_the_order_packages_appear_in_and_keeps_the_newest_version() -> None:
    # v2 is named first but its package comes after v1's, so Go selects v1, then moves on to v2.
    text = "# a.com/x v1.2.0\n# a.com/x v1.1.0\na.com/x\n# a.com/x v1.2.0\na.com/x/y\n# a.com/x v1.0.0\na.com/x/z\n"
    v = vendor.parse(text)
    assert [m.version for m in v.build_list] == ["v1.1.0", "v1.2.0"]
    assert v.selected_version("a.com/x") == "v1.2.0"
    # The package last listed wins, whatever its module's version.
    module = v.package_module("a.com/x/z")
    assert module is not None and module.version == "v1.0.0"


def test_go_and_toolchain_modules_never_replace_their_first_selected_version() -> None:
    v = vendor.parse(
        "# go v1.0.0\ngo/a\n# go v2.0.0\ngo/b\n# toolchain v1.0.0\nt/a\n# toolchain v2.0.0\nt/b\n"
    )
    assert [(m.path, m.version) for m in v.build_list] == [("go", "v1.0.0"), ("toolchain", "v1.0.0")]


# --- reading what go skips -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("# a.com/x\n", "needs '# MODULE VERSION'"),
        ("# a.com/x latest\n", "'latest' is neither a version nor '=>'"),
        ("# a.com/x v1.0.0 => a b c\n", "replacement is not"),
        ("# a.com/x v1.0.0 => b.com/y latest\n", "replacement is not"),
        ("# a.com/x v1.0.0 =>\n", "text after the module"),
        ("# a.com/x v1.0.0 extra\n", "text after the module"),
        ("a.com/x\n", "no module line above"),
        ("## workspace\n", "no module line above"),
        ("# a.com/x v1.0.0\na.com/x a.com/y\n", "not a single valid import path"),
        ("# a.com/x v1.0.0\n##explicit\n", "not a single valid import path"),
        ("# a.com/x v1.0.0\n #a\n", "not a single valid import path"),
    ],
)
def test_lines_go_does_not_understand_are_listed_as_ignored(text: str, reason: str) -> None:
    v = vendor.parse(text)
    (ignored,) = v.ignored
    assert reason in ignored.reason
    assert ignored.text == text.rstrip("\n").split("\n")[ignored.line - 1]


def test_a_short_module_line_keeps_the_module_above_current() -> None:
    v = vendor.parse("# a.com/x v1.0.0\n# junk\na.com/x/pkg\n")
    assert v.modules[0].packages == ("a.com/x/pkg",)
    assert v.ignored == (IgnoredLine(2, "# junk", v.ignored[0].reason),)


def test_an_unreadable_module_line_ends_the_module_above() -> None:
    v = vendor.parse("# a.com/x v1.0.0\n# b.com/y master\nb.com/y\n## explicit\n")
    (m,) = v.modules
    assert m.packages == () and not m.explicit
    assert [i.line for i in v.ignored] == [2, 3, 4]


def test_a_bad_replacement_leaves_the_module_and_an_earlier_replacement_in_place() -> None:
    v = vendor.parse("# a.com/x v1.0.0 => ../x\n# a.com/x v1.0.0 => ../y junk\n")
    (m,) = v.modules
    assert m.replacement_path == "../x"
    assert v.replaced_keys == (("a.com/x", "v1.0.0"),)


@pytest.mark.parametrize(
    ("package", "valid"),
    [
        ("example.com/a/b", True),
        ("gopkg.in/yaml.v3", True),
        ("a/c++", True),
        ("a/.hidden", True),  # a leading dot is refused in module paths only
        ("a/_x/~y", True),
        ("A/B", True),
        ("a/com10", True),
        ("a/x~y", True),
        ("a/x~1.txt", False),
        ("a/COM1", False),
        ("a/nul.go", False),
        ("a/Lpt9", False),
        ("-a", False),
        ("a//b", False),
        ("a/", False),
        ("/a", False),
        ("a/..", False),
        ("a/b.", False),
        ("a/b@v1", False),
        ("a/b:c", False),
        ("a/ü", False),
        ("a/b%20", False),
        ("a/١", False),
    ],
)
def test_package_lines_must_be_import_paths_as_go_checks_them(package: str, valid: bool) -> None:
    v = vendor.parse(f"# a.com/x v1.0.0\n{package}\n")
    assert (v.modules[0].packages == (package,)) is valid
    assert (v.ignored == ()) is valid


def test_blank_lines_are_neither_read_nor_listed() -> None:
    v = vendor.parse("\n\n   \n# a.com/x v1.0.0\n\n\ta.com/x  \n\n")
    assert v.modules[0].packages == ("a.com/x",)
    assert v.modules[0].line == 4
    assert v.ignored == ()


def test_empty_text_is_an_empty_list() -> None:
    assert vendor.parse("") == VendorList(())


# --- files -------------------------------------------------------------------------------------------


def test_parse_file_names_the_file_and_treats_a_missing_one_as_empty(tmp_path: Path) -> None:
    assert vendor.parse_file(tmp_path / "modules.txt").modules == ()
    (tmp_path / "modules.txt").write_bytes(MODULES_TXT.encode() + b"a/\xff\n")
    v = vendor.parse_file(tmp_path / "modules.txt")
    assert v.file == str(tmp_path / "modules.txt")
    assert len(v.modules) == 5
    assert [i.line for i in v.ignored] == [13]


def test_parse_file_reports_an_unreadable_file_as_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(vendor.VendorError, match="cannot read"):
        vendor.parse_file(tmp_path)


# --- consistency: the go command's checks, per module ------------------------------------------------


def test_what_go_mod_vendor_wrote_is_consistent() -> None:
    assert check() == []


def test_a_require_not_marked_explicit_is_found_with_both_lines_and_a_hint() -> None:
    (f,) = check(MODULES_TXT.replace("## explicit\n", ""))
    assert f.path == "github.com/google/uuid"
    assert [i.kind for i in f.issues] == ["not-explicit"]
    assert f.go_mod == "require v1.6.0"
    assert f.vendor == "v1.6.0"
    assert (f.go_mod_lines, f.vendor_lines) == ((8,), (8,))
    assert (f.go_mod_line, f.vendor_line) == (8, 8)
    assert "go mod vendor" in f.hint
    assert str(f) == (
        "github.com/google/uuid: go.mod requires v1.6.0, but vendor/modules.txt does not mark v1.6.0 "
        "'## explicit' (it lists v1.6.0)"
    )
    assert f.message.endswith("(go.mod: require v1.6.0; modules.txt: v1.6.0)")


def test_a_version_that_differs_is_one_finding_for_two_go_complaints() -> None:
    (f,) = check(MODULES_TXT.replace("uuid v1.6.0", "uuid v1.5.0"))
    assert f.path == "github.com/google/uuid"
    assert [(i.kind, i.version) for i in f.issues] == [("not-explicit", "v1.6.0"), ("not-required", "v1.5.0")]
    assert f.vendor == "v1.5.0, explicit"


def test_a_require_missing_from_modules_txt_is_found() -> None:
    extra = Requirement("golang.org/x/text", "v0.3.0", 9)
    (f,) = check(requires=[*REQUIRES, extra])
    assert (f.path, f.vendor, f.vendor_lines, f.go_mod_lines) == ("golang.org/x/text", "", (), (9,))
    assert "it does not list the module" in str(f)


def test_an_explicit_module_go_mod_does_not_require_is_found() -> None:
    (f,) = check(requires=REQUIRES[:2])
    assert (f.path, [i.kind for i in f.issues]) == ("github.com/google/uuid", ["not-required"])
    assert f.go_mod == ""


def test_explicit_marks_on_modules_without_packages_are_not_go_s_concern() -> None:
    # Go checks the reverse direction only for modules that provide packages.
    assert check(MODULES_TXT + "# example.com/ghost v1.0.0\n## explicit\n") == []


def test_a_replacement_missing_from_modules_txt_is_found() -> None:
    (f,) = check(MODULES_TXT.replace("# example.com/lib v1.0.0 => ../lib", "# example.com/lib v1.0.0"))
    assert (f.path, [i.kind for i in f.issues]) == ("example.com/lib", ["not-replaced"])
    assert str(f) == (
        "example.com/lib: go.mod replaces v1.0.0 by ../lib, but vendor/modules.txt records no replacement for v1.0.0"
    )
    assert f.go_mod == "require v1.0.0; replace v1.0.0 => ../lib"
    assert (f.go_mod_lines, f.vendor_lines) == ((6, 11), (1,))


def test_a_missing_wildcard_replacement_line_is_found() -> None:
    (f,) = check(MODULES_TXT.replace("# example.com/other => ../other\n", ""))
    assert (f.path, [(i.kind, i.version) for i in f.issues]) == ("example.com/other", [("not-replaced", "")])
    assert "replaces all versions by ../other" in str(f)


def test_a_replacement_that_differs_is_found() -> None:
    (f,) = check(MODULES_TXT.replace("=> ../nowhere", "=> example.com/fork v1.0.0"))
    assert (f.path, [i.kind for i in f.issues]) == ("example.com/unused", ["replacement-differs"])
    assert str(f).endswith(
        "replaces v1.2.3 by ../nowhere, but vendor/modules.txt records example.com/fork v1.0.0"
    )


def test_a_replacement_go_mod_does_not_make_is_found() -> None:
    (f,) = check(replaces=REPLACES[:2])
    assert (f.path, [i.kind for i in f.issues]) == ("example.com/unused", ["not-in-go-mod"])
    assert "records v1.2.3 => ../nowhere, but go.mod has no replace for it" in str(f)


def test_a_wildcard_replace_in_go_mod_covers_every_replaced_version_in_modules_txt() -> None:
    text = MODULES_TXT + "# example.com/other v9.0.0 => ../other\n"
    assert check(text) == []


def test_a_wildcard_replace_of_the_main_module_has_no_effect() -> None:
    replaces = [*REPLACES, Replacement("example.com/app", "", "./", "", 16)]
    assert check(replaces=replaces) == []
    # Without knowing the main module it looks like any other missing replacement.
    (f,) = check(replaces=replaces, main_module="")
    assert f.path == "example.com/app"
    # modules.txt recording it contradicts go.mod, where it does nothing.
    (f,) = check(MODULES_TXT + "# example.com/app => ./\n", replaces=replaces)
    assert [i.kind for i in f.issues] == ["replacement-differs", "not-in-go-mod"]


def test_findings_come_in_go_s_order_one_per_module() -> None:
    text = MODULES_TXT.replace("## explicit\n", "").replace("=> ../nowhere", "=> ../elsewhere")
    findings = check(text, replaces=[*REPLACES, Replacement("github.com/google/uuid", "", "../u", "", 17)])
    assert kinds(findings) == {
        "github.com/google/uuid": ["not-explicit", "not-replaced"],
        "example.com/unused": ["replacement-differs"],
    }
    assert [f.path for f in findings] == ["github.com/google/uuid", "example.com/unused"]


def test_duplicate_statements_give_one_issue_each() -> None:
    text = MODULES_TXT + "# example.com/x v1.0.0 => ../x\n# example.com/x v1.0.0 => ../x\n"
    findings = check(text, requires=[*REQUIRES, REQUIRES[0]], replaces=[*REPLACES, REPLACES[2]])
    assert kinds(findings) == {"example.com/x": ["not-in-go-mod"]}


def test_go_annotations_are_not_compared_with_anything() -> None:
    text = MODULES_TXT.replace("## explicit; go 1.21", "## explicit; go 1.10").replace(
        "## explicit; go 1.20", "## explicit"
    )
    assert check(text) == []


# --- consistency before go 1.14 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "go_version", ["1.13", "1.13.15", "1.14rc1", "1.14beta1", "1.2", "", "bogus", "1.014"]
)
def test_go_versions_before_1_14_relax_the_checks(go_version: str) -> None:
    text = MODULES_TXT.replace("## explicit\n", "").replace("# example.com/other => ../other\n", "")
    assert check(text, go_version=go_version) == []


@pytest.mark.parametrize(
    "go_version", ["1.14", "1.14.0", "1.14.1", "1.15rc1", "1.21", "1.22.3", "2", "1.100"]
)
def test_go_1_14_and_later_apply_the_full_checks(go_version: str) -> None:
    text = MODULES_TXT.replace("## explicit\n", "")
    assert kinds(check(text, go_version=go_version)) == {"github.com/google/uuid": ["not-explicit"]}


def test_before_1_14_a_require_is_compared_with_the_vendored_version() -> None:
    text = MODULES_TXT.replace("uuid v1.6.0\n## explicit\n", "uuid v1.5.0\n")
    (f,) = check(text, go_version="1.13")
    assert [(i.kind, i.version) for i in f.issues] == [("version-differs", "v1.6.0")]
    assert "vendors packages of v1.5.0" in str(f)


def test_before_1_14_replaces_of_versions_without_packages_may_be_missing() -> None:
    text = MODULES_TXT.replace("# example.com/unused v1.2.3 => ../nowhere\n", "")
    assert check(text, go_version="1.13") == []
    text = MODULES_TXT.replace("# example.com/lib v1.0.0 => ../lib", "# example.com/lib v1.0.0")
    assert kinds(check(text, go_version="1.13")) == {"example.com/lib": ["not-replaced"]}


def test_before_1_14_explicit_and_replaced_marks_are_still_checked_against_go_mod() -> None:
    assert kinds(check(requires=REQUIRES[:2], replaces=REPLACES[:2], go_version="1.13")) == {
        "github.com/google/uuid": ["not-required"],
        "example.com/unused": ["not-in-go-mod"],
    }


# --- properties --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dep:
    """A module of a generated project, as go mod vendor would see it."""

    path: str
    version: str
    required: bool
    replacement: tuple[str, str]  # ("", "") when not replaced
    wildcard: bool  # the replace in go.mod is for all versions
    packages: tuple[str, ...]


# Import path elements Go accepts: no "~N" short names, no Windows device names (which Go refuses too).
WINDOWS_NAMES = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
ELEM = st.from_regex(r"[a-z][a-z0-9_+-]{0,4}(\.[a-z0-9]{1,3})?", fullmatch=True).filter(
    lambda e: e.split(".")[0].upper() not in WINDOWS_NAMES
)
PATH = st.lists(ELEM, min_size=1, max_size=3).map(lambda es: "example.com/" + "/".join(es))
VERSION = st.sampled_from(["v1.0.0", "v0.1.2", "v2.0.0+incompatible", "v1.2.3-pre.1", OTHER_V])
REPLACEMENT = st.one_of(
    st.just(("", "")),
    st.sampled_from(["../x", "./fork", "/abs/dir"]).map(lambda p: (p, "")),
    st.tuples(st.just("example.org/fork"), VERSION),
)


@st.composite
def projects(draw: st.DrawFn) -> list[Dep]:
    paths = draw(st.lists(PATH, unique=True, min_size=1, max_size=6))
    deps = []
    for p in paths:
        replacement = draw(REPLACEMENT)
        packages = draw(st.lists(st.sampled_from(["", "/sub", "/a/b"]), unique=True, max_size=3))
        deps.append(
            Dep(
                path=p,
                version=draw(VERSION),
                required=draw(st.booleans()),
                replacement=replacement,
                wildcard=bool(replacement[0]) and draw(st.booleans()),
                packages=tuple(sorted(p + s for s in packages)),
            )
        )
    return deps


def go_mod_of(deps: list[Dep]) -> tuple[list[Requirement], list[Replacement]]:
    requires = [Requirement(d.path, d.version, i + 1) for i, d in enumerate(deps) if d.required]
    replaces = [
        Replacement(d.path, "" if d.wildcard else d.version, *d.replacement, line=100 + i)
        for i, d in enumerate(deps)
        if d.replacement[0]
    ]
    return requires, replaces


def modules_txt_of(deps: list[Dep]) -> str:
    """What go mod vendor (go ≥ 1.17) writes: used modules sorted, then the replaces not yet written."""
    out = []
    used = sorted((d for d in deps if d.required or d.packages), key=lambda d: d.path)
    for d in used:
        target = " ".join(x for x in d.replacement if x)
        out.append(f"# {d.path} {d.version}" + (f" => {target}" if target else ""))
        if d.required:
            out.append("## explicit; go 1.21")
        out.extend(d.packages)
    for d in deps:
        target = " ".join(x for x in d.replacement if x)
        if target and (d.wildcard or d not in used):
            out.append(f"# {d.path}{'' if d.wildcard else ' ' + d.version} => {target}")
    return "".join(line + "\n" for line in out)


@given(st.text(max_size=300))
def test_any_text_gives_a_vendor_list(text: str) -> None:
    v = vendor.parse(text)
    lines = text.split("\n")
    for m in v.modules:
        assert lines[m.line - 1].startswith("# ")
    for i in v.ignored:
        assert lines[i.line - 1] == i.text
    assert set(v.build_keys) <= {(m.path, m.version) for m in v.modules}
    vendor.check_consistency([], [], v, go_version="1.22")


MODULES_TXT_WORDS = st.sampled_from(
    [
        "# ",
        "## ",
        "explicit",
        "; ",
        "go 1.21",
        "a.com/x",
        " v1.0.0",
        " =>",
        " ../x",
        " b.com/y v1.2.0",
        "\n",
        "\r",
        " ",
    ]
)


@given(st.lists(MODULES_TXT_WORDS, max_size=40).map("".join))
def test_modules_txt_like_text_gives_a_vendor_list_and_findings_that_name_listed_modules(text: str) -> None:
    v = vendor.parse(text)
    reqs = [Requirement("a.com/x", "v1.0.0", 1)]
    reps = [Replacement("a.com/x", "", "../x", "", 2)]
    for f in vendor.check_consistency(reqs, reps, v, go_version="1.22"):
        assert f.path == "a.com/x" or f.vendor_lines
        assert f.issues


@given(projects())
def test_what_go_mod_vendor_would_write_reads_back_and_is_consistent(deps: list[Dep]) -> None:
    requires, replaces = go_mod_of(deps)
    v = vendor.parse(modules_txt_of(deps))
    assert v.ignored == ()
    for d in deps:
        m = v.get(d.path, d.version)
        if d.required or d.packages:
            assert m is not None
            assert (m.explicit, m.packages) == (d.required, d.packages)
            assert (m.replacement_path, m.replacement_version) == d.replacement
    assert vendor.check_consistency(requires, replaces, v, go_version="1.22") == []


@given(projects(), st.data())
def test_damaging_one_module_gives_one_finding_for_that_module(deps: list[Dep], data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(deps))
    damages = ["drop-require", "bump-version"]
    if target.replacement[0]:
        damages += ["drop-replace", "retarget-replace"]
    else:
        damages += ["add-replace"]
    damage = data.draw(st.sampled_from(damages))
    requires, replaces = go_mod_of(deps)
    text = modules_txt_of(deps)
    if damage == "drop-require":
        requires = [r for r in requires if r.path != target.path]
        if not target.required:
            requires.append(Requirement(target.path, target.version, 50))
    elif damage == "bump-version":
        requires = [r if r.path != target.path else Requirement(r.path, "v9.9.9", r.line) for r in requires]
        replaces = [
            r
            if r.old_path != target.path or not r.old_version
            else Replacement(r.old_path, "v9.9.9", r.new_path, r.new_version, r.line)
            for r in replaces
        ]
        if not target.required and (not target.replacement[0] or target.wildcard):
            requires.append(Requirement(target.path, "v9.9.9", 50))
    elif damage == "drop-replace":
        replaces = [r for r in replaces if r.old_path != target.path]
    elif damage == "retarget-replace":
        replaces = [
            r if r.old_path != target.path else Replacement(r.old_path, r.old_version, "../moved", "", r.line)
            for r in replaces
        ]
    else:
        replaces.append(Replacement(target.path, "", "../new", "", 60))
    findings = vendor.check_consistency(requires, replaces, vendor.parse(text), go_version="1.22")
    if damage == "drop-require" and target.required and not target.packages:
        # Go checks '## explicit' against go.mod only for modules that provide packages.
        assert findings == []
    else:
        assert [f.path for f in findings] == [target.path]
