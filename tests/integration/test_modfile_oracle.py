"""goship.modfile agrees with ``go mod edit -json`` byte for byte: the same document for every file Go
accepts and the same error lines for every file Go refuses. Inputs: x/mod's own modfile test files and
test tables, generated files, and the go.mod files of large real projects, fetched as the go command does."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from goship import modfile

pytestmark = pytest.mark.integration

XMOD_VERSION = "v0.43.0"
REAL_MODULES = [
    "k8s.io/kubernetes@v1.37.2",
    "go.etcd.io/etcd/server/v3@v3.6.16",
    "go.etcd.io/etcd/server/v3@v3.5.35",
    "go.etcd.io/etcd/client/v3@v3.6.16",
    "go.etcd.io/etcd/client/v3@v3.5.35",
    "github.com/prometheus/prometheus@v0.316.0",
    "github.com/prometheus/prometheus@v1.99.0",  # nothing but retractions
    # istio tags releases without a "v", so the proxy serves it only as pseudo-versions of master.
    "istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad",
    "github.com/cilium/cilium@v1.20.2",  # tool directives
    "github.com/hashicorp/terraform@v1.13.3",  # godebug, replace, tool
    "github.com/golang/protobuf@v1.5.4",  # a deprecated module
    "github.com/grafana/loki/v3@v3.7.8",  # exclude, ignore
    "github.com/golangci/golangci-lint/v2@v2.15.0",  # an ignore block
    "github.com/ipfs/kubo@v0.43.1",  # an exclude block
]

Outcome = tuple[str, str]
"""("ok", the JSON text) or ("error", the error lines)."""


@pytest.fixture(scope="session")
def go() -> Callable[..., subprocess.CompletedProcess[bytes]]:
    """Runs the real go command; fails the session's tests (never skips them) when Go is missing."""
    binary = shutil.which("go")
    if binary is None:
        pytest.fail("the Go toolchain is needed for the go.mod oracle, but 'go' is not on PATH")
    # No inherited -mod or -modfile flags, no go.work, and no toolchain switch for files that ask
    # for a newer Go: the oracle is the Go on this machine reading one file.
    env = {k: v for k, v in os.environ.items() if k not in ("GOFLAGS", "GOWORK", "GOTOOLCHAIN")}
    env |= {"GOFLAGS": "", "GOWORK": "off", "GOTOOLCHAIN": "local"}

    def run(*args: str, cwd: Path, **extra_env: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([binary, *args], cwd=cwd, env=env | extra_env, capture_output=True, check=False)

    return run


@pytest.fixture(scope="session")
def go_oracle(go: Callable[..., subprocess.CompletedProcess[bytes]]) -> Callable[[bytes], Outcome]:
    """What ``go mod edit -json go.mod`` makes of a file's bytes."""

    def ask(data: bytes) -> Outcome:
        with tempfile.TemporaryDirectory(prefix="goship-modfile-") as tmp:
            (Path(tmp) / "go.mod").write_bytes(data)
            done = go("mod", "edit", "-json", "go.mod", cwd=Path(tmp))
        stdout = done.stdout.decode("utf-8", "surrogateescape")
        stderr = done.stderr.decode("utf-8", "surrogateescape")
        if done.returncode == 0:
            return "ok", stdout
        header = "go: errors parsing go.mod:\n"
        assert stderr.startswith(header), f"go mod edit failed unexpectedly: {stderr}"
        return "error", stderr.removeprefix(header).removesuffix("\n")

    return ask


def ours(data: bytes) -> Outcome:
    try:
        mod = modfile.parse(data.decode("utf-8", "surrogateescape"), file="go.mod")
    except modfile.ModFileError as err:
        return "error", "\n".join(p.go_text for p in err.problems)
    return "ok", modfile.edit_json_text(mod)


def compare_all(oracle: Callable[[bytes], Outcome], inputs: Iterable[tuple[str, bytes]]) -> dict[str, bool]:
    """Asserts agreement on every input; returns, by name, whether Go accepted it."""
    named = list(inputs)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(oracle, (data for _, data in named)))
    mismatches = [
        f"{name}: {data!r}\n  go:   {want!r}\n  ours: {got!r}"
        for (name, data), want in zip(named, answers, strict=True)
        if (got := ours(data)) != want
    ]
    assert not mismatches, f"{len(mismatches)} of {len(named)} differ:\n" + "\n".join(mismatches[:10])
    return {name: kind == "ok" for (name, _), (kind, _) in zip(named, answers, strict=True)}


# --- x/mod's own test inputs -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def xmod_modfile_dir(
    go: Callable[..., subprocess.CompletedProcess[bytes]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """golang.org/x/mod/modfile in the default module cache (downloaded once, kept between runs)."""
    done = go(
        "mod", "download", "-json", f"golang.org/x/mod@{XMOD_VERSION}", cwd=tmp_path_factory.mktemp("xmod")
    )
    assert done.returncode == 0, done.stderr.decode() + done.stdout.decode()
    return Path(json.loads(done.stdout)["Dir"]) / "modfile"


def test_xmod_testdata_files_read_as_go_reads_them(
    xmod_modfile_dir: Path, go_oracle: Callable[[bytes], Outcome]
) -> None:
    testdata = xmod_modfile_dir / "testdata"
    files = sorted(p for p in testdata.rglob("*") if p.suffix in (".in", ".golden"))
    accepted = compare_all(go_oracle, ((str(p.relative_to(testdata)), p.read_bytes()) for p in files))
    assert len(accepted) == 32
    # Of the go.mod inputs, Go refuses block.in ("unknown directive: x") and comment.in (two modules).
    go_mod_inputs = {name: ok for name, ok in accepted.items() if name.endswith(".in") and "/" not in name}
    assert sorted(name for name, ok in go_mod_inputs.items() if not ok) == ["block.in", "comment.in"]
    assert sum(go_mod_inputs.values()) == 7


def test_xmod_test_table_inputs_read_as_go_reads_them(
    xmod_modfile_dir: Path, go_oracle: Callable[[bytes], Outcome]
) -> None:
    # Every raw string literal of x/mod's modfile tests: go.mod (and go.work) texts and fragments.
    literals: dict[str, None] = {}
    for test_file in ("read_test.go", "rule_test.go", "work_test.go"):
        source = (xmod_modfile_dir / test_file).read_text()
        literals |= dict.fromkeys(re.findall(r"`([^`]*)`", source))
    accepted = compare_all(go_oracle, ((f"literal {i}", t.encode()) for i, t in enumerate(literals)))
    assert sum(accepted.values()) > 100 and len(accepted) - sum(accepted.values()) > 100


# --- generated files ---------------------------------------------------------------------------------

PATHS = [
    "x.org/a",
    "x.org/a/v2",
    "x.org/b",
    '"x.org/c"',
    "gopkg.in/yaml.v2",
    "gopkg.in/check.v1",
    "x.org/é",
    '"<&>"',
    '""',
]
VERSIONS = ["v1.2.3", "v1.2", "v1", "v0.1.0", "v2.0.0+incompatible", "v1.2.3-pre+build", "v2.1.0", '"v1.0.0"', "bad",
            "v0.0.0-20200101000000-abcdefabcdef"]  # fmt: skip
COMMENTS = [
    "",
    "",
    "",
    " // indirect",
    " //indirect",
    " // indirect; note",
    " // indirect;",
    " // why <&>",
    " // Deprecated: x",
]
NOISE = ["(", ")", "[", "]", ",", "{", "=>", "//", "/*", '"', "`", "\\", "\t", "\r\n", "\n\n", "é", "\u00a0", "\x00",
         "\u2028", "'q'", '"\\xff"', '"a\\\nb"', "=x", "use", "module", "go 1.21.x", "toolchain go2"]  # fmt: skip


def generated_go_mod(rng: random.Random) -> str:
    def entry(verb: str) -> str:
        if verb in ("require", "exclude"):
            return f"{rng.choice(PATHS)} {rng.choice(VERSIONS)}{rng.choice(COMMENTS)}"
        if verb == "replace":
            old = rng.choice(PATHS) + (f" {rng.choice(VERSIONS)}" if rng.random() < 0.4 else "")
            new = rng.choice(
                ["./d", "../e", "/abs", f"x.org/z {rng.choice(VERSIONS)}", "x.org/z", "x@v1", ".\\w"]
            )
            return f"{old} => {new}{rng.choice(COMMENTS)}"
        if verb == "retract":
            single = rng.choice(VERSIONS)
            return rng.choice([single, f"[{single}, {rng.choice(VERSIONS)}]"]) + rng.choice(COMMENTS)
        if verb == "godebug":
            return rng.choice(["a=b", "panicnil=1", "k=", "=v", "x=y=z"])
        return rng.choice(["x.org/t", "./n", '"./q r"'])

    parts = ["// Deprecated: top\nmodule x.org/m" if rng.random() < 0.2 else "module x.org/m"]
    for _ in range(rng.randint(0, 8)):
        verb = rng.choice(
            ["require", "require", "exclude", "replace", "retract", "godebug", "tool", "ignore"]
        )
        before = rng.choice(["", "", "// reason\n", "// Deprecated: d\n"])
        lines = [entry(verb) for _ in range(rng.randint(1, 3))]
        if len(lines) == 1 and rng.random() < 0.5:
            parts.append(f"{before}{verb} {lines[0]}")
        else:
            body = "".join(rng.choice(["", "", "\n", "\t// inner\n"]) + f"\t{line}\n" for line in lines)
            parts.append(f"{before}{verb} ({rng.choice(['', ' // lp'])}\n{body})")
    parts += [rng.choice(["go 1.22", "go 1.21rc1", "toolchain go1.22.1", "// loose comment", ""])]
    rng.shuffle(parts)
    text = rng.choice(["\n", "\r\n"]).join(parts) + "\n"
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        at = rng.randrange(len(text) + 1)
        text = text[:at] + rng.choice(NOISE) + text[at:]
    return text


def test_generated_files_read_as_go_reads_them(go_oracle: Callable[[bytes], Outcome]) -> None:
    rng = random.Random(20260611)
    texts = [generated_go_mod(rng) for _ in range(400)]
    accepted = compare_all(go_oracle, ((f"generated {i}", t.encode()) for i, t in enumerate(texts)))
    # Enough of both kinds that the comparison covers documents and error lines alike.
    assert sum(accepted.values()) > 50 and len(accepted) - sum(accepted.values()) > 50


def test_bytes_that_are_not_utf8_read_as_go_reads_them(go_oracle: Callable[[bytes], Outcome]) -> None:
    inputs = [
        b"module a\xffb\n",
        b'module "a\xffb"\n',
        b'tool "\\xff\\xe2\\x82\\xac"\n',
        b"module m // \xff\nrequire x.org/a v1.0.0 // indirect \xc3\n",
        b"\xed\xa0\x80 module\n",
        b"require x\xe2\x82 v1.0.0\n",
    ]
    compare_all(go_oracle, ((repr(b), b) for b in inputs))


# --- lax parsing: x/mod's ParseLax itself ------------------------------------------------------------

# go mod edit always parses strictly, so lax mode is compared with modfile.ParseLax through a small
# program built against the x/mod downloaded above (no network: GOPROXY=off, the module cache has it).
PARSE_LAX_PROGRAM = """
package main

import (
	"bufio"
	"encoding/json"
	"os"

	"golang.org/x/mod/modfile"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(nil, 1<<24)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var text string
		if err := json.Unmarshal(in.Bytes(), &text); err != nil {
			panic(err)
		}
		f, err := modfile.ParseLax("go.mod", []byte(text), nil)
		if err != nil {
			out.Encode(map[string]any{"error": err.Error()})
			continue
		}
		doc := map[string]any{"go": "", "module": nil, "require": [][]any{}, "retract": [][]any{}, "ignore": [][]any{},
			"others": len(f.Godebug) + len(f.Exclude) + len(f.Replace) + len(f.Tool)}
		if f.Toolchain != nil {
			doc["others"] = -1
		}
		if f.Go != nil {
			doc["go"] = f.Go.Version
		}
		if m := f.Module; m != nil {
			doc["module"] = []any{m.Mod.Path, m.Deprecated, m.Syntax.Start.Line, m.Syntax.Start.LineRune}
		}
		for _, r := range f.Require {
			doc["require"] = append(doc["require"].([][]any), []any{r.Mod.Path, r.Mod.Version, r.Indirect, r.Syntax.Start.Line, r.Syntax.Start.LineRune})
		}
		for _, r := range f.Retract {
			doc["retract"] = append(doc["retract"].([][]any), []any{r.Low, r.High, r.Rationale, r.Syntax.Start.Line})
		}
		for _, i := range f.Ignore {
			doc["ignore"] = append(doc["ignore"].([][]any), []any{i.Path, i.Syntax.Start.Line})
		}
		out.Encode(doc)
	}
}
"""


def lax_summary(text: str) -> dict[str, object]:
    """What the ParseLax program prints, computed from goship's lax parse."""
    try:
        mod = modfile.parse(text, lax=True)
    except modfile.ModFileError as err:
        return {"error": "\n".join(p.go_text for p in err.problems)}
    m = mod.module
    others = len(mod.godebug) + len(mod.exclude) + len(mod.replace) + len(mod.tool)
    return {
        "go": mod.go.version if mod.go else "",
        "module": [m.path, m.deprecated, m.line, m.col] if m else None,
        "require": [[r.path, r.version, r.indirect, r.line, r.col] for r in mod.require],
        "retract": [[r.low, r.high, r.rationale, r.line] for r in mod.retract],
        "ignore": [[i.path, i.line] for i in mod.ignore],
        "others": -1 if mod.toolchain else others,
    }


def test_lax_parsing_agrees_with_parse_lax(
    go: Callable[..., subprocess.CompletedProcess[bytes]], xmod_modfile_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "main.go").write_text(PARSE_LAX_PROGRAM)
    (tmp_path / "go.mod").write_text(
        f"module goship.test/parselax\n\ngo 1.22\n\nrequire golang.org/x/mod {XMOD_VERSION}\n"
    )
    built = go("build", "-mod=mod", "-o", "parselax", ".", cwd=tmp_path, GOPROXY="off")
    assert built.returncode == 0, built.stderr.decode()
    rng = random.Random(20260612)
    texts = [generated_go_mod(rng) for _ in range(600)] + [
        # x/mod's TestParseLax input: everything but module and require is ignored or tolerated.
        "module m\nsurprise attack\nx y (\n\tz\n)\nexclude v1.2.3\nreplace <-!!!\nretract v1.2.3 v1.2.4\n"
        "retract (v1.2.3, v1.2.4]\nretract v1.2.3 (\n\tkey1 value1\n\tkey2 value2\n)\nrequire good v1.0.0\n",
        "go 1.21.x\ntoolchain go1.22.0\n",
        # A skipped directive spanning two lines cannot hold a comment, which goes to the line before.
        'require x.org/a v1.0.0\nfoo "a\\\nb" // indirect\n',
    ]
    stdin = "".join(json.dumps(t) + "\n" for t in texts)
    done = subprocess.run(
        [str(tmp_path / "parselax")], input=stdin, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == len(texts)
    mismatches = [
        (t, want, got) for t, want in zip(texts, answers, strict=True) if (got := lax_summary(t)) != want
    ]
    assert not mismatches, f"{len(mismatches)} differ, first: {mismatches[0]}"
    assert answers[-1]["require"] == [["x.org/a", "v1.0.0", True, 1, 1]]
    assert sum("error" not in a for a in answers) > 300


# --- real go.mod files -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def real_go_mods(
    go: Callable[..., subprocess.CompletedProcess[bytes]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """MODULE@VERSION -> its go.mod in the module cache; ``go list -m`` fetches only the .mod files."""
    work = tmp_path_factory.mktemp("real-modules")
    init = go("mod", "init", "goship.test/oracle", cwd=work)
    assert init.returncode == 0, init.stderr.decode()
    done = go("list", "-m", "-json", *REAL_MODULES, cwd=work)
    assert done.returncode == 0, done.stderr.decode()
    found: dict[str, Path] = {}
    decoder, text, at = json.JSONDecoder(), done.stdout.decode(), 0
    while text[at:].strip():
        info, end = decoder.raw_decode(text, text.index("{", at))
        found[f"{info['Path']}@{info['Version']}"] = Path(info["GoMod"])
        at = end
    return found


@pytest.mark.parametrize("module_version", REAL_MODULES)
def test_real_go_mod_files_read_as_go_reads_them(
    module_version: str, real_go_mods: dict[str, Path], go_oracle: Callable[[bytes], Outcome]
) -> None:
    data = real_go_mods[module_version].read_bytes()
    want = go_oracle(data)
    assert want[0] == "ok", want[1]
    assert ours(data) == want
    # The same file through parse_file, as callers will use it.
    assert modfile.edit_json_text(modfile.parse_file(real_go_mods[module_version])) == want[1]


def test_the_real_files_between_them_use_every_directive(real_go_mods: dict[str, Path]) -> None:
    mods = [modfile.parse_file(path) for path in real_go_mods.values()]
    assert len(mods) == len(REAL_MODULES)
    assert max(len(m.require) for m in mods) > 200
    assert all(
        any(getattr(m, field) for m in mods)
        for field in ("toolchain", "godebug", "exclude", "replace", "retract", "tool", "ignore")
    )
    assert any(r.indirect for m in mods for r in m.require)
    assert any(m.module and m.module.deprecated for m in mods)
