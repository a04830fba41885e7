"""``goship deps check`` against real Go modules (a disk module proxy, the real go command)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Repo
from tests.integration.conftest import run_go

pytestmark = pytest.mark.integration


def check(repo: Repo, env: dict[str, str], *args: str) -> tuple[int, dict[str, object]]:
    result = repo.goship("deps", "check", "--json", *args, **env)
    assert result.code in (0, 1), result.stderr
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    return result.code, doc


def test_a_tidy_verified_pinned_module_passes_every_rule(app: Repo, goenv: dict[str, str]) -> None:
    result = app.goship("deps", "check", **goenv)
    assert result.code == 0, result.stdout + result.stderr
    assert "deps check passed: 1 module(s), 9 rule(s): 0 error(s), 0 warning(s)" in result.stdout


def test_untidy_go_mod_fails_with_the_diff(app: Repo, goenv: dict[str, str]) -> None:
    app.write("extra.go", 'package main\n\nimport "example.com/util"\n\nvar _ = util.Version\n')
    code, doc = check(app, goenv, "--rule", "tidy")
    assert code == 1
    [finding] = doc["findings"]  # type: ignore[misc]
    assert finding["rule"] == "tidy"
    assert finding["file"] == "go.mod"
    assert (
        "+require example.com/util v0.2.0" in finding["detail"]
        or "example.com/util v0.2.0" in finding["detail"]
    )
    assert "go mod tidy" in finding["hint"]


def test_missing_go_sum_lines_are_named_module_by_module(app: Repo, goenv: dict[str, str]) -> None:
    gosum = app.path / "go.sum"
    gosum.write_text(
        "".join(line for line in gosum.read_text().splitlines(keepends=True) if "/go.mod" not in line)
    )
    code, doc = check(app, goenv, "--rule", "sum_complete")
    assert code == 1
    [finding] = doc["findings"]  # type: ignore[misc]
    assert finding["message"] == "go.sum has no go.mod hash for example.com/lib v1.0.0"
    assert finding["detail"] == "required at go.mod:5"
    assert (app.path / "go.sum").read_text() == gosum.read_text()  # the check changed nothing


def test_a_modified_module_cache_fails_verify(app: Repo, goenv: dict[str, str], tmp_path: Path) -> None:
    env = {**goenv, "GOMODCACHE": str(tmp_path / "own-cache")}
    run_go(app, env, "mod", "download")
    assert check(app, env, "--rule", "verify")[0] == 0
    source = tmp_path / "own-cache" / "example.com" / "lib@v1.0.0" / "lib.go"
    source.write_text(source.read_text() + "\n// tampered\n")
    code, doc = check(app, env, "--rule", "verify")
    assert code == 1
    [finding] = doc["findings"]  # type: ignore[misc]
    assert finding["subject"] == "example.com/lib"
    assert "example.com/lib v1.0.0: dir has been modified" in finding["message"]


def test_a_local_directory_replace_fails_unless_allowlisted(app: Repo, goenv: dict[str, str]) -> None:
    app.write("go.mod", (app.path / "go.mod").read_text() + "\nreplace example.com/lib => ../lib\n")
    code, doc = check(app, goenv, "--rule", "local_replace")
    assert code == 1
    [finding] = doc["findings"]  # type: ignore[misc]
    assert (finding["file"], finding["line"]) == ("go.mod", 7)
    assert "go work use ../lib" in finding["hint"]
    app.write("goship.yaml", "deps:\n  rules:\n    local_replace:\n      allow: [example.com/lib]\n")
    code, doc = check(app, goenv, "--rule", "local_replace")
    assert (code, doc["findings"]) == (0, [])


def test_pseudo_version_requirements_fail_pinned(app: Repo, goenv: dict[str, str]) -> None:
    app.write(
        "go.mod",
        "module example.com/shop\n\ngo 1.22\n\nrequire example.com/lib v1.1.1-0.20240101000000-abcdefabcdef\n",
    )
    code, doc = check(app, goenv, "--rule", "pinned")
    assert code == 1
    [finding] = doc["findings"]  # type: ignore[misc]
    assert finding["line"] == 5
    assert "pseudo-version" in finding["message"]


def test_exclude_is_a_warning_by_default(app: Repo, goenv: dict[str, str]) -> None:
    app.write("go.mod", (app.path / "go.mod").read_text() + "\nexclude example.com/lib v1.0.1\n")
    result = app.goship("deps", "check", "--rule", "exclude", **goenv)
    assert result.code == 0
    assert "warn   exclude       example.com/shop  go.mod:7  exclude example.com/lib v1.0.1" in result.stdout


def test_go_and_toolchain_policy(app: Repo, goenv: dict[str, str]) -> None:
    app.write("goship.yaml", "deps:\n  min_go: '1.23'\n  require_toolchain: true\n")
    code, doc = check(app, goenv, "--rule", "go_version", "--rule", "toolchain")
    assert code == 1
    messages = [f["message"] for f in doc["findings"]]  # type: ignore[union-attr]
    assert messages[0] == "expected a go directive of at least 1.23 (found go 1.22)"
    assert messages[1].startswith("expected a toolchain directive")
    run_go(app, goenv, "mod", "edit", "-go=1.23", "-toolchain=go1.23.4")
    assert check(app, goenv, "--rule", "go_version", "--rule", "toolchain")[0] == 0


def test_vendor_inconsistency_is_reported_per_module(app: Repo, goenv: dict[str, str]) -> None:
    run_go(app, goenv, "mod", "vendor")
    assert check(app, goenv, "--rule", "vendor")[0] == 0
    modules_txt = app.path / "vendor" / "modules.txt"
    modules_txt.write_text(
        modules_txt.read_text().replace("example.com/lib v1.0.0", "example.com/lib v1.0.1")
    )
    code, doc = check(app, goenv, "--rule", "vendor")
    assert code == 1
    findings = doc["findings"]
    assert isinstance(findings, list) and findings
    assert {f["subject"] for f in findings} == {"example.com/lib"}
    assert all(f["file"] == "vendor/modules.txt" for f in findings)


def test_frozen_fails_when_the_build_changes_go_mod_and_leaves_it_as_it_was(
    app: Repo, goenv: dict[str, str]
) -> None:
    before = (app.path / "go.mod").read_text()
    code, doc = check(
        app, goenv, "--frozen", "--rule", "frozen", "--frozen-command", "go get example.com/lib@v1.0.1"
    )
    assert code == 1
    [finding] = [f for f in doc["findings"] if f["file"] == "go.mod"]  # type: ignore[union-attr]
    assert "-require example.com/lib v1.0.0" in finding["detail"]
    assert "+require example.com/lib v1.0.1" in finding["detail"]
    assert (app.path / "go.mod").read_text() == before
    assert check(app, goenv, "--frozen", "--rule", "frozen")[0] == 0


def test_every_module_of_a_monorepo_is_checked(app: Repo, goenv: dict[str, str]) -> None:
    app.write(
        "services/orders/go.mod",
        "module example.com/shop/services/orders\n\ngo 1.22\n\nexclude example.com/util v0.1.0\n",
    )
    app.write("services/orders/main.go", "package main\n\nfunc main() {}\n")
    code, doc = check(app, goenv, "--rule", "exclude", "--rule", "tidy")
    assert doc["modules"] == ["example.com/shop", "example.com/shop/services/orders"]
    assert [(f["rule"], f["file"]) for f in doc["findings"]] == [("exclude", "services/orders/go.mod")]  # type: ignore[union-attr]
    assert code == 0


def test_unknown_rule_is_a_usage_error(app: Repo, goenv: dict[str, str]) -> None:
    result = app.goship("deps", "check", "--rule", "tidyness", **goenv)
    assert result.code == 2
    assert "unknown rule 'tidyness' (expected one of:" in result.stderr
