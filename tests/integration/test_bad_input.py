"""Bad input gets a clear error, the documented exit code, and never a traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Repo

pytestmark = pytest.mark.integration


def assert_clean_error(stderr: str) -> None:
    assert stderr.startswith("error: "), stderr
    assert "Traceback" not in stderr


def test_outside_a_git_repository(repo: Repo, tmp_path: Path) -> None:
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    result = repo.goship("version", cwd=elsewhere)
    assert result.code == 2
    assert_clean_error(result.stderr)
    assert "is not inside a git repository" in result.stderr
    assert "hint:" in result.stderr


def test_repository_without_go_mod(tmp_path: Path) -> None:
    r = Repo(tmp_path / "nogo")
    r.commit("chore: start", files={"README.md": "hi\n"})
    result = r.goship("version")
    assert result.code == 2
    assert_clean_error(result.stderr)
    assert "no Go module found" in result.stderr
    assert "go mod init" in result.stderr


def test_go_mod_in_vendor_and_testdata_is_not_a_module(tmp_path: Path) -> None:
    r = Repo(tmp_path / "vend")
    r.gomod(".", "example.com/v")
    r.gomod("vendor/example.com/dep", "example.com/dep")
    r.gomod("internal/testdata/fixture", "example.com/fixture")
    r.commit("feat: start")
    doc = r.goship("version", "--json").json()
    assert isinstance(doc, dict)
    assert [m["dir"] for m in doc["modules"]] == ["."]


def test_malformed_module_line_points_at_the_line(tmp_path: Path) -> None:
    r = Repo(tmp_path / "bad")
    r.write("go.mod", "// my module\nmodule\n\ngo 1.22\n")
    r.commit("feat: start")
    result = r.goship("version")
    assert result.code == 2
    assert_clean_error(result.stderr)
    assert "go.mod:2: malformed module line: expected 'module <path>' (found 'module')" in result.stderr


def test_shallow_clone_without_tags_says_how_to_fetch_them(repo: Repo, tmp_path: Path) -> None:
    repo.commit("feat: one")
    repo.commit("feat: two")
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--no-tags", f"file://{repo.path}", str(clone)],
        check=True,
        env=repo.env(),
    )
    result = repo.goship("version", cwd=clone)
    assert result.code == 2
    assert_clean_error(result.stderr)
    assert "shallow clone without tags" in result.stderr
    assert "git fetch --unshallow --tags" in result.stderr


def test_invalid_goship_yaml_lists_every_problem_with_its_line(repo: Repo) -> None:
    repo.write(
        "goship.yaml",
        "versioning:\n  breaking_before_v1: huge\n  initial_version: v1\ntags:\n  remote: origin\n  colour: red\n",
    )
    result = repo.goship("version")
    assert result.code == 2
    assert_clean_error(result.stderr)
    assert "error: goship.yaml has 3 problems" in result.stderr
    assert (
        "goship.yaml:2:" in result.stderr
        and "breaking_before_v1: expected 'minor' or 'major'" in result.stderr
    )
    assert (
        "goship.yaml:3:" in result.stderr
        and "initial_version: expected a version like v0.1.0" in result.stderr
    )
    assert "goship.yaml:6:3: tags.colour: unknown setting" in result.stderr


def test_yaml_syntax_error_has_its_location(repo: Repo) -> None:
    repo.write("goship.yaml", "versioning:\n  bump_types: [feat\n")
    result = repo.goship("config", "show")
    assert result.code == 2
    assert_clean_error(result.stderr)
    assert "goship.yaml:" in result.stderr and "is not valid YAML" in result.stderr


def test_unknown_option_is_a_usage_error(repo: Repo) -> None:
    result = repo.goship("version", "--frobnicate")
    assert result.code == 2
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback_of_an_error(repo: Repo) -> None:
    result = repo.goship("version", "--module", "nope", GOSHIP_DEBUG="1")
    assert result.code == 2
    assert "Traceback" in result.stderr
    assert "error: no Go module at 'nope'" in result.stderr


def test_config_show_prints_the_effective_config_and_schema_is_json_schema(repo: Repo) -> None:
    repo.write("goship.yaml", "tags:\n  remote: upstream\n")
    shown = repo.goship("config", "show", "--json")
    assert shown.code == 0, shown.stderr
    doc = shown.json()
    assert isinstance(doc, dict)
    assert doc["tags"] == {"remote": "upstream", "sign": False}
    assert doc["versioning"]["initial_version"] == "v0.1.0"
    as_yaml = repo.goship("config", "show")
    assert "remote: upstream" in as_yaml.stdout
    schema = json.loads(repo.goship("config", "schema").stdout)
    assert set(schema["properties"]) == {
        "versioning",
        "changelog",
        "tags",
        "modules",
        "deps",
        "services",
        "images",
        "canary",
        "kubernetes",
    }
    assert schema["additionalProperties"] is False


def test_every_json_command_prints_exactly_one_document(repo: Repo) -> None:
    repo.commit("feat: one")
    for args in (
        ["version", "--json"],
        ["changelog", "--json"],
        ["tag", "--dry-run", "--json"],
        ["config", "show", "--json"],
        ["config", "schema"],
    ):
        result = repo.goship(*args)
        assert result.code == 0, (args, result.stderr)
        json.loads(result.stdout)  # raises on anything but one document


def test_version_and_help(repo: Repo) -> None:
    assert repo.goship("--version").stdout.strip() == "0.1.0"
    helped = repo.goship("--help").stdout
    for command in ("version", "changelog", "tag", "config"):
        assert command in helped
