"""goship.yaml: defaults, and every problem of a file reported at once at its file:line:col."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from goship import config as config_module
from goship.config import (
    ChangelogConfig,
    GoshipConfig,
    ModulesConfig,
    TagsConfig,
    VersioningConfig,
    config_schema,
    load_config,
    parse_config,
)
from goship.errors import ConfigError

SOURCE = "goship.yaml"
LOCATION = re.compile(r"^goship\.yaml:(?P<line>\d+):(?P<col>\d+): ")


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source=SOURCE)
    return info.value.details


def _lines_of(details: list[str]) -> list[int]:
    lines = []
    for detail in details:
        m = LOCATION.match(detail)
        assert m, f"expected 'goship.yaml:LINE:COL: ' at the start of {detail!r}"
        lines.append(int(m.group("line")))
    return lines


# --- defaults ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n", "# nothing configured yet\n", "---\n"])
def test_empty_file_gives_the_defaults(text: str) -> None:
    assert parse_config(text, source=SOURCE) == GoshipConfig()


def test_defaults_are_the_documented_ones() -> None:
    config = GoshipConfig()

    assert config.versioning.bump_types == {
        "feat": "minor",
        "fix": "patch",
        "perf": "patch",
        "revert": "patch",
    }
    assert config.versioning.breaking_before_v1 == "minor"
    assert config.versioning.initial_version == "v0.1.0"
    assert config.changelog.commit_url is None
    assert "dependabot[bot]" in config.changelog.bots
    assert "chore" in config.changelog.hidden_types
    assert (config.tags.remote, config.tags.sign) == ("origin", False)
    assert config.modules.exclude == []


def test_missing_sections_and_settings_keep_their_defaults() -> None:
    config = parse_config("versioning:\n  breaking_before_v1: major\n", source=SOURCE)

    assert config.versioning == VersioningConfig(breaking_before_v1="major")
    assert config.changelog == ChangelogConfig()
    assert config.tags == TagsConfig()
    assert config.modules == ModulesConfig()


def test_settings_given_are_read() -> None:
    text = (
        "versioning:\n"
        "  bump_types:\n"
        "    feat: minor\n"
        "    docs: patch\n"
        "  initial_version: v1.0.0\n"
        "changelog:\n"
        "  commit_url: https://git.example.com/o/r/commit/{sha}\n"
        "  hidden_types: [chore]\n"
        "tags:\n"
        "  remote: upstream\n"
        "  sign: true\n"
        "modules:\n"
        "  exclude: [tools]\n"
    )

    config = parse_config(text, source=SOURCE)

    assert config.versioning.bump_types == {"feat": "minor", "docs": "patch"}
    assert config.versioning.initial_version == "v1.0.0"
    assert config.changelog.commit_url == "https://git.example.com/o/r/commit/{sha}"
    assert config.changelog.hidden_types == ["chore"]
    assert config.tags == TagsConfig(remote="upstream", sign=True)
    assert config.modules.exclude == ["tools"]


def test_bump_types_are_case_insensitive() -> None:
    config = parse_config("versioning:\n  bump_types:\n    Feat: major\n", source=SOURCE)

    assert config.versioning.bump_types == {"feat": "major"}


# --- problems ----------------------------------------------------------------------------------------


def test_every_problem_of_a_file_is_reported_at_its_line() -> None:
    text = (
        "versioning:\n"  # 1
        "  breaking_before_v1: huge\n"  # 2
        "  initial_version: 1.0\n"  # 3
        "changelog:\n"  # 4
        "  colour: red\n"  # 5
    )

    with pytest.raises(ConfigError) as info:
        parse_config(text, source=SOURCE)

    err = info.value
    assert err.message == "goship.yaml has 3 problems"
    assert err.hint is not None
    assert len(err.details) == 3
    assert _lines_of(err.details) == [2, 3, 5]
    breaking, initial, colour = err.details
    assert (
        breaking
        == "goship.yaml:2:3: versioning.breaking_before_v1: expected 'minor' or 'major' (found 'huge')"
    )
    assert initial.startswith("goship.yaml:3:3: versioning.initial_version: ")
    assert "1.0" in initial
    assert colour == "goship.yaml:5:3: changelog.colour: unknown setting"


def test_unknown_top_level_section_is_reported_at_its_key() -> None:
    assert _problems("versioning: {}\ncolour: red\n") == ["goship.yaml:2:1: colour: unknown setting"]


def test_initial_version_that_is_not_a_full_release_is_refused() -> None:
    problems = _problems('versioning:\n  initial_version: "v1.0"\n')

    assert problems == [
        "goship.yaml:2:3: versioning.initial_version: expected a version like v0.1.0 or v1.0.0 (found 'v1.0')"
    ]


def test_prerelease_initial_version_is_refused() -> None:
    (problem,) = _problems("versioning:\n  initial_version: v1.0.0-rc.1\n")

    assert problem.startswith("goship.yaml:2:3: versioning.initial_version: expected a version like v0.1.0")


def test_commit_url_without_sha_placeholder_is_refused() -> None:
    (problem,) = _problems("changelog:\n  commit_url: https://git.example.com/o/r\n")

    assert problem.startswith(
        "goship.yaml:2:3: changelog.commit_url: expected a URL template containing {sha}"
    )


def test_bad_bump_in_the_type_map_is_reported_at_its_entry() -> None:
    problems = _problems("versioning:\n  bump_types:\n    feat: minor\n    docs: huge\n")

    assert problems == [
        "goship.yaml:4:5: versioning.bump_types.docs: expected 'major', 'minor', 'patch' or 'none' (found 'huge')"
    ]


def test_bad_list_item_is_reported_at_the_item() -> None:
    (problem,) = _problems("changelog:\n  bots:\n    - dependabot[bot]\n    - 42\n")

    assert _lines_of([problem]) == [4]
    assert "changelog.bots.1" in problem


def test_value_checks_of_two_settings_in_one_section_are_both_reported() -> None:
    # "every problem is reported at once": a bad literal must not hide the bad initial_version beside it.
    text = 'versioning:\n  breaking_before_v1: huge\n  initial_version: "1.0"\n'

    assert _lines_of(_problems(text)) == [2, 3]


def test_invalid_yaml_is_reported_at_its_line() -> None:
    text = "versioning:\n  bump_types: [feat\n  initial_version: v1.0.0\n"

    with pytest.raises(ConfigError) as info:
        parse_config(text, source=SOURCE)

    assert re.match(r"^goship\.yaml:3:\d+: goship\.yaml is not valid YAML: ", info.value.message)
    assert info.value.hint is not None


def test_tab_indentation_is_reported_as_invalid_yaml_at_its_line() -> None:
    with pytest.raises(ConfigError, match=r"^goship\.yaml:2:\d+: goship\.yaml is not valid YAML"):
        parse_config("versioning:\n\tbreaking_before_v1: major\n", source=SOURCE)


@pytest.mark.parametrize(("text", "found"), [("- versioning\n- tags\n", "list"), ("just words\n", "str")])
def test_top_level_that_is_not_a_mapping_is_refused(text: str, found: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source=SOURCE)

    assert info.value.message == f"goship.yaml:1:1: expected a mapping of settings at the top (found {found})"


def test_problems_name_the_source_they_were_read_from() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("colour: red\n", source="sub/goship.yaml")

    assert info.value.details == ["sub/goship.yaml:1:1: colour: unknown setting"]


def test_config_error_exits_with_usage_code() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("colour: red\n", source=SOURCE)

    assert info.value.exit_code == 2


# --- schema ------------------------------------------------------------------------------------------


def test_schema_is_a_json_schema_with_the_sections_as_properties() -> None:
    schema = config_schema()

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "goship.yaml"
    assert schema["type"] == "object"
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
    assert schema.get("additionalProperties") is False


def test_schema_describes_each_setting_with_its_default() -> None:
    defs = config_schema()["$defs"]

    versioning = defs["VersioningConfig"]["properties"]
    assert versioning["breaking_before_v1"]["enum"] == ["minor", "major"]
    assert versioning["initial_version"]["default"] == "v0.1.0"
    assert defs["TagsConfig"]["properties"]["sign"]["default"] is False
    assert all(prop.get("description") for d in defs.values() for prop in d["properties"].values())


def test_an_empty_section_means_its_defaults() -> None:
    config = parse_config(
        "versioning:\n  # nothing set yet\ntags:\n  remote: upstream\n", source="goship.yaml"
    )
    assert config.versioning.initial_version == "v0.1.0"
    assert config.tags.remote == "upstream"


def test_a_key_set_twice_is_a_problem_reported_with_the_others() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("tags:\n  remote: a\n  remote: b\n  sign: maybe\n", source="goship.yaml")
    assert caught.value.details[0] == "goship.yaml:3:3: tags.remote: set twice (keep one)"
    assert caught.value.details[1].startswith("goship.yaml:4:3: tags.sign:")


# --- the parsed-settings cache ------------------------------------------------------------------------


def _load_counting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> tuple[GoshipConfig, int]:
    """load_config of a repository whose goship.yaml is ``text``, and how many times it was parsed."""
    (tmp_path / "repo").mkdir(exist_ok=True)
    (tmp_path / "repo" / "goship.yaml").write_text(text)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    parsed = []
    monkeypatch.setattr(
        config_module, "parse_config", lambda t, **kw: parsed.append(t) or parse_config(t, **kw)
    )
    return load_config(tmp_path / "repo"), len(parsed)


def test_a_valid_file_is_parsed_once_and_then_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "images:\n  registry: registry.example.com/team\ntags:\n  sign: true\n"
    first, parsed_first = _load_counting(tmp_path, monkeypatch, text)
    second, parsed_second = _load_counting(tmp_path, monkeypatch, text)
    assert (parsed_first, parsed_second) == (1, 0)
    assert second == first
    assert second.images.registry == "registry.example.com/team" and second.tags.sign is True
    changed, parsed = _load_counting(tmp_path, monkeypatch, text.replace("team", "other"))
    assert parsed == 1 and changed.images.registry == "registry.example.com/other"


def test_a_file_with_problems_is_never_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(2):
        with pytest.raises(ConfigError):
            _load_counting(tmp_path, monkeypatch, "tags:\n  sign: maybe\n")
    assert not list((tmp_path / "cache").rglob("*.pickle"))


def test_a_damaged_cache_entry_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "tags:\n  sign: true\n"
    _load_counting(tmp_path, monkeypatch, text)
    (entry,) = (tmp_path / "cache").rglob("*.pickle")
    entry.write_bytes(entry.read_bytes()[:10])
    again, parsed = _load_counting(tmp_path, monkeypatch, text)
    assert parsed == 1 and again.tags.sign is True
