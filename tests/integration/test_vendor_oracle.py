"""goship.deps.gosum and goship.deps.vendor agree with the real go command.

A small module example.com/app (local replaces of example.com/lib and example.com/other, and the real
github.com/google/uuid from the module proxy) is tidied and vendored by go; what it writes must read back
as go lists it. Then go.mod and vendor/modules.txt are damaged in many ways: ``go build -mod=vendor`` must
refuse with "inconsistent vendoring" exactly when ``check_consistency`` has findings, naming the same
modules; go.sum is damaged too, and go must call it malformed exactly where ``gosum.parse`` does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from goship.deps import gosum, vendor
from goship.deps.gosum import EMPTY_GO_MOD_HASH, GoSumError

pytestmark = pytest.mark.integration

UUID = "github.com/google/uuid"
LIB = "example.com/lib"
OTHER = "example.com/other"
UNUSED = "example.com/unused"

FILES = {
    "lib/go.mod": "module example.com/lib\n\ngo 1.21\n",
    "lib/lib.go": 'package lib\n\nfunc Hello() string { return "hello" }\n',
    "lib/sub/sub.go": "package sub\n\nconst X = 1\n",
    "lib/unused/unused.go": "package unused\n",
    "other/go.mod": "module example.com/other\n\ngo 1.20\n",
    "other/other.go": 'package other\n\nconst Name = "other"\n',
    # example.com/lib is replaced at one version, example.com/other at all versions, and
    # example.com/unused is replaced but never required: go mod vendor records all three.
    "app/go.mod": """module example.com/app

go 1.22

require example.com/lib v1.0.0

replace example.com/lib v1.0.0 => ../lib

replace example.com/other => ../other

replace example.com/unused v1.2.3 => ../nowhere
""",
    "app/main.go": """package main

import (
\t"fmt"

\t"example.com/lib"
\t"example.com/lib/sub"
\t"example.com/other"
\t"github.com/google/uuid"
)

func main() { fmt.Println(lib.Hello(), sub.X, other.Name, uuid.NewString()) }
""",
}


# --- running go ----------------------------------------------------------------------------------------


def go(*args: str, cwd: Path, mod: bool = False, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real go; ``mod`` adds -mod=mod for commands that cannot work from vendor/ (go list -m all)."""
    exe = shutil.which("go")
    if exe is None:
        pytest.fail("the Go toolchain is needed for the vendoring oracle, but 'go' is not on PATH")
    flags = [f for f in os.environ.get("GOFLAGS", "").split() if not f.startswith("-mod=")]
    if mod:
        flags.append("-mod=mod")
    env = {**os.environ, "GOFLAGS": " ".join(flags), "GOTOOLCHAIN": "local", "GOWORK": "off"}
    done = subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"go {' '.join(args)} failed in {cwd}:\n{done.stderr}")
    return done


def json_stream(text: str) -> list[dict[str, Any]]:
    """go's -json output: JSON objects one after another."""
    decoder, pos, out = json.JSONDecoder(), 0, []
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        obj, pos = decoder.raw_decode(text, pos)
        out.append(obj)
    return out


@dataclass(frozen=True)
class GoModFacts:
    """go.mod as go itself reads it (go mod edit -json), plus the line of each statement."""

    requires: list[vendor.Requirement]
    replaces: list[vendor.Replacement]
    go_version: str
    main_module: str


def go_mod_facts(app: Path) -> GoModFacts:
    data = json.loads(go("mod", "edit", "-json", cwd=app).stdout)
    lines = [line.split("//")[0].split() for line in (app / "go.mod").read_text().splitlines()]
    lines = [f[1:] if f and f[0] in ("require", "replace") else f for f in lines]

    def line_of(fields: list[str]) -> int:
        return next(i for i, f in enumerate(lines, start=1) if f == fields)

    requires = [
        vendor.Requirement(r["Path"], r["Version"], line_of([r["Path"], r["Version"]]))
        for r in data.get("Require") or []
    ]
    replaces = []
    for r in data.get("Replace") or []:
        old, new = r["Old"], r["New"]
        old_v, new_v = old.get("Version", ""), new.get("Version", "")
        written = [old["Path"], *([old_v] if old_v else []), "=>", new["Path"], *([new_v] if new_v else [])]
        replaces.append(vendor.Replacement(old["Path"], old_v, new["Path"], new_v, line_of(written)))
    return GoModFacts(requires, replaces, data.get("Go") or "", data["Module"]["Path"])


def go_list_modules(app: Path) -> dict[str, dict[str, Any]]:
    """``go list -m -json all`` by module path, main module left out."""
    listed = json_stream(go("list", "-m", "-json", "all", cwd=app, mod=True).stdout)
    return {m["Path"]: m for m in listed if not m.get("Main")}


def go_list_packages(app: Path) -> dict[str, set[str]]:
    """Module path → the non-standard packages the main module's packages import from it."""
    template = "{{with .Module}}{{if not .Main}}{{.Path}} {{end}}{{end}}{{.ImportPath}}"
    out = go("list", "-deps", "-f", template, "./...", cwd=app, mod=True).stdout
    packages: dict[str, set[str]] = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 2:
            packages.setdefault(fields[0], set()).add(fields[1])
    return packages


# --- the vendored module ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vendored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tidied and vendored tree (app next to lib and other); tests copy it before damaging it."""
    root = tmp_path_factory.mktemp("vendoring")
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    go("mod", "tidy", cwd=root / "app")
    go("mod", "vendor", cwd=root / "app")
    return root


@pytest.fixture
def app_copy(vendored: Path, tmp_path: Path) -> Path:
    """A private copy of the vendored app (with its lib and other), free to damage."""
    shutil.copytree(vendored, tmp_path / "tree")
    return tmp_path / "tree" / "app"


def test_go_sum_reads_back_with_the_hashes_go_lists(app_copy: Path) -> None:
    sums = gosum.parse_file(app_copy / "go.sum")
    modules = go_list_modules(app_copy)
    assert set(modules) == {LIB, OTHER, UUID}
    for path, m in modules.items():
        replace = m.get("Replace")
        if replace and not replace.get("Version"):
            # A directory replacement has nothing to hash.
            assert sums.lines_for(path, m["Version"]) == ()
            continue
        assert sums.has_module(path, m["Version"])
        assert sums.has_go_mod(path, m["Version"])
        hashes = {e.is_go_mod: e.hash for e in sums.lines_for(path, m["Version"])}
        assert hashes == {False: m["Sum"], True: m["GoModSum"]}
    assert {(e.path, e.version) for e in sums.entries} == {(UUID, modules[UUID]["Version"])}
    assert sums.ignored == ()


def test_modules_txt_reads_back_as_go_lists_modules_and_packages(app_copy: Path) -> None:
    listing = vendor.parse_file(app_copy / "vendor" / "modules.txt")
    assert listing.ignored == ()
    modules = go_list_modules(app_copy)
    packages = go_list_packages(app_copy)
    facts = go_mod_facts(app_copy)
    required = {(r.path, r.version) for r in facts.requires}
    for path, m in modules.items():
        entry = listing.get(path, m["Version"])
        assert entry is not None, path
        replace = m.get("Replace") or {}
        assert (entry.replacement_path, entry.replacement_version) == (
            replace.get("Path", ""),
            replace.get("Version", ""),
        )
        assert entry.explicit == ((path, m["Version"]) in required)
        assert entry.go_version == m.get("GoVersion", "")
        assert set(entry.packages) == packages.get(path, set())
        assert listing.selected_version(path) == m["Version"]
    assert {m.path for m in listing.build_list} == set(packages)
    # Every replace of go.mod is recorded, also the wildcard one and the one nothing requires.
    for r in facts.replaces:
        entry = listing.get(r.old_path, r.old_version)
        assert entry is not None and (entry.replacement_path, entry.replacement_version) == (
            r.new_path,
            r.new_version,
        )
    assert (
        vendor.check_consistency(
            facts.requires,
            facts.replaces,
            listing,
            go_version=facts.go_version,
            main_module=facts.main_module,
        )
        == []
    )


# --- damage: go build -mod=vendor against check_consistency --------------------------------------------


def replace_text(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, f"{old!r} is not in the file"
        return text.replace(old, new)

    return edit


def append(extra: str) -> Callable[[str], str]:
    return lambda text: text + extra


def both(*edits: Callable[[str], str]) -> Callable[[str], str]:
    def edit(text: str) -> str:
        for e in edits:
            text = e(text)
        return text

    return edit


def keep(text: str) -> str:
    return text


def reverse_blocks(text: str) -> str:
    blocks = ("\n" + text).split("\n# ")[1:]
    return "".join("# " + b.rstrip("\n") + "\n" for b in reversed(blocks))


@dataclass(frozen=True)
class Damage:
    go_mod: Callable[[str], str] = keep
    modules_txt: Callable[[str], str] = keep
    expected: tuple[str, ...] = ()
    """The modules Go must name (and check_consistency with it)."""


DAMAGES = {
    "untouched": Damage(),
    "explicit mark dropped": Damage(
        modules_txt=replace_text(f"{UUID} v1.6.0\n## explicit\n", f"{UUID} v1.6.0\n"), expected=(UUID,)
    ),
    "version changed in modules.txt": Damage(
        modules_txt=replace_text("uuid v1.6.0", "uuid v1.5.0"), expected=(UUID,)
    ),
    "version changed in go.mod": Damage(go_mod=replace_text("uuid v1.6.0", "uuid v1.5.0"), expected=(UUID,)),
    "require added to go.mod": Damage(
        go_mod=append("\nrequire golang.org/x/text v0.3.0\n"), expected=("golang.org/x/text",)
    ),
    "require dropped from go.mod": Damage(go_mod=replace_text(f"\t{UUID} v1.6.0\n", ""), expected=(UUID,)),
    "replacement dropped from modules.txt": Damage(
        modules_txt=replace_text(f"# {LIB} v1.0.0 => ../lib\n", f"# {LIB} v1.0.0\n"), expected=(LIB,)
    ),
    "replacement changed in modules.txt": Damage(
        modules_txt=replace_text(f"# {LIB} v1.0.0 => ../lib\n", f"# {LIB} v1.0.0 => ../lib2\n"),
        expected=(LIB,),
    ),
    "replacement made unreadable in modules.txt": Damage(
        modules_txt=replace_text(f"# {LIB} v1.0.0 => ../lib\n", f"# {LIB} v1.0.0 => ../lib extra\n"),
        expected=(LIB,),
    ),
    "module line made unreadable in modules.txt": Damage(
        modules_txt=replace_text(f"# {LIB} v1.0.0 => ../lib\n", f"# {LIB} latest => ../lib\n"),
        expected=(LIB,),
    ),
    "wildcard replacement line dropped": Damage(
        modules_txt=replace_text(f"# {OTHER} => ../other\n", ""), expected=(OTHER,)
    ),
    "unused replacement line dropped": Damage(
        modules_txt=replace_text(f"# {UNUSED} v1.2.3 => ../nowhere\n", ""), expected=(UNUSED,)
    ),
    "replace added to go.mod": Damage(go_mod=append(f"\nreplace {UUID} => ../uuidfork\n"), expected=(UUID,)),
    "replace dropped from go.mod": Damage(
        go_mod=replace_text(f"replace {LIB} v1.0.0 => ../lib\n", ""), expected=(LIB,)
    ),
    "replace retargeted in go.mod": Damage(
        go_mod=replace_text(f"{UNUSED} v1.2.3 => ../nowhere", f"{UNUSED} v1.2.3 => {UUID} v1.5.0"),
        expected=(UNUSED,),
    ),
    "wildcard replace narrowed in go.mod": Damage(
        go_mod=replace_text(f"replace {OTHER} => ../other", f"replace {OTHER} v0.1.0 => ../other"),
        expected=(OTHER,),
    ),
    "two modules damaged at once": Damage(
        go_mod=replace_text(f"replace {LIB} v1.0.0 => ../lib\n", ""),
        modules_txt=replace_text("uuid v1.6.0", "uuid v1.5.0"),
        expected=(UUID, LIB),
    ),
    "wildcard replace of the main module added": Damage(go_mod=append("\nreplace example.com/app => ./\n")),
    "go annotations changed and dropped": Damage(
        modules_txt=both(
            replace_text("## explicit; go 1.21", "## explicit; go 1.10"),
            replace_text("## explicit; go 1.20", "## explicit"),
        )
    ),
    "blocks reordered": Damage(modules_txt=reverse_blocks),
    "noise lines added": Damage(
        modules_txt=both(
            replace_text(f"## explicit\n{UUID}\n", f"## explicit\n# junk\n## future; thing\n\n{UUID}\n"),
            append("not a package!\n## workspace\n\n"),
        )
    ),
    "before go 1.14 explicit marks are not needed": Damage(
        go_mod=replace_text("go 1.22", "go 1.13"),
        modules_txt=both(
            replace_text("## explicit; go 1.21\n", ""),
            replace_text("## explicit; go 1.20\n", ""),
            replace_text("## explicit\n", ""),
            replace_text(f"# {OTHER} => ../other\n", ""),
            replace_text(f"# {UNUSED} v1.2.3 => ../nowhere\n", ""),
        ),
    ),
    "before go 1.14 a vendored version still must match": Damage(
        go_mod=replace_text("go 1.22", "go 1.13"),
        modules_txt=both(replace_text("## explicit\n", ""), replace_text("uuid v1.6.0", "uuid v1.5.0")),
        expected=(UUID,),
    ),
}


def modules_named_by_go(stderr: str) -> set[str]:
    """The module paths of go's "inconsistent vendoring" lines (``\\tPATH[@VERSION]: why``)."""
    named = set()
    for line in stderr.splitlines():
        if line.startswith("\t") and ": is " in line:
            named.add(line.strip().split(": is ", 1)[0].split("@", 1)[0])
    return named


@pytest.mark.parametrize("name", DAMAGES)
def test_findings_exist_exactly_when_go_calls_the_vendoring_inconsistent(app_copy: Path, name: str) -> None:
    damage = DAMAGES[name]
    for file, edit in (
        (app_copy / "go.mod", damage.go_mod),
        (app_copy / "vendor" / "modules.txt", damage.modules_txt),
    ):
        file.write_text(edit(file.read_text()))

    built = go("build", "-mod=vendor", "-o", os.devnull, "./...", cwd=app_copy, check=False)
    facts = go_mod_facts(app_copy)
    findings = vendor.check_consistency(
        facts.requires,
        facts.replaces,
        vendor.parse_file(app_copy / "vendor" / "modules.txt"),
        go_version=facts.go_version,
        main_module=facts.main_module,
    )

    inconsistent = "inconsistent vendoring" in built.stderr
    assert inconsistent == bool(findings), f"go said:\n{built.stderr}\nfindings: {[str(f) for f in findings]}"
    assert {f.path for f in findings} == modules_named_by_go(built.stderr) == set(damage.expected)
    if not findings:
        assert built.returncode == 0, built.stderr
    for f in findings:
        assert f.go_mod_lines or f.vendor_lines
        assert all(r.line in f.go_mod_lines for r in facts.requires if r.path == f.path)
        assert "go mod vendor" in f.hint


# --- go.sum: malformed exactly where go says so --------------------------------------------------------


def insert_line(n: int, line: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        lines = text.split("\n")
        lines.insert(n - 1, line)
        return "\n".join(lines)

    return edit


GO_SUM_DAMAGES: dict[str, Callable[[str], str]] = {
    "untouched": keep,
    "two fields at the end": append("example.com/x v1.0.0\n"),
    "one field first": insert_line(1, "example.com/x"),
    "four fields in the middle": insert_line(2, "example.com/x v1.0.0 h1:a= h1:b="),
    "several malformed lines": both(insert_line(1, "a"), append("b c\nd e f g\n")),
    "blank lines of unicode space": both(insert_line(1, "\xa0\u3000"), insert_line(3, " \t\v\f\r")),
    "a file separator is no space": insert_line(2, "\x1c"),
    "crlf line endings": lambda text: text.replace("\n", "\r\n"),
    "fields split by unicode space": append("example.com/x\u2028v1.0.0\u00a0h1:x=\n"),
    "the old empty go.mod hash": append(f"example.com/x v1.0.0/go.mod {EMPTY_GO_MOD_HASH}\n"),
    "an unknown hash algorithm": append("example.com/x v1.0.0 h9:x=\n"),
    "no newline at the end": lambda text: text + "example.com/x v1.0.0",
}


@pytest.mark.parametrize("name", GO_SUM_DAMAGES)
def test_go_sum_is_malformed_exactly_where_go_says(app_copy: Path, name: str) -> None:
    path = app_copy / "go.sum"
    path.write_bytes(GO_SUM_DAMAGES[name](path.read_text()).encode())

    listed = go("list", "-m", "all", cwd=app_copy, mod=True, check=False)
    try:
        sums = gosum.parse_file(path)
    except GoSumError as err:
        # go stops at the first malformed line: "PATH:LINE: wrong number of fields N".
        first = err.details[0]
        line, count = first.split(":")[1], first.split("(found ")[1].split(":")[0]
        assert f"{path}:{line}: wrong number of fields {count}" in listed.stderr, listed.stderr
        assert "malformed go.sum" in listed.stderr
        return
    assert listed.returncode == 0, listed.stderr
    assert sums.has_module(UUID, "v1.6.0") and sums.has_go_mod(UUID, "v1.6.0")
