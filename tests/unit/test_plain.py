"""goship._plain builds goship.yaml's settings without pydantic only when it gets exactly what pydantic
would: every file here is parsed both ways and must come out equal (or go to pydantic)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from goship import _plain
from goship.config import GoshipConfig, parse_config
from goship.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    m = re.search(r"## goship\.yaml.*?```yaml\n(.*?)```", text, re.S)
    assert m, "README.md has a goship.yaml example"
    return m.group(1)


FILES = {
    "readme": _readme_example(),
    "durations": "canary:\n  interval: 30s\n  step_deadline: 2m\n  steps: [5, 25, 50]\n",
    "numbers-for-durations": "canary:\n  interval: 2\n  step_deadline: 1.5\n",
    "optional-set": "deps:\n  min_go: '1.22'\nchangelog:\n  commit_url: https://git.example.com/x/commit/{sha}\n",
    "lists-and-dicts": "versioning:\n  bump_types: {FEAT: minor, Fix: patch}\nmodules:\n  exclude: [tools, hack]\n",
    "empty-sections": "tags:\nimages:\n",
}
COERCED = {
    "bool-as-string": "tags:\n  sign: 'true'\n",
    "int-as-string": "canary:\n  min_requests: '10'\n",
}
INVALID = {
    "unknown-key": "tags:\n  sing: true\n",
    "bad-check": "versioning:\n  initial_version: 1.0\n",
    "bad-duration": "canary:\n  interval: soon\n",
    "bad-literal": "versioning:\n  breaking_before_v1: huge\n",
}


def _by_pydantic(text: str, monkeypatch: pytest.MonkeyPatch) -> GoshipConfig:
    def refuse(tp: object, value: object) -> object:
        raise _plain.NotPlain("forced")

    with monkeypatch.context() as m:
        m.setattr(_plain, "convert", refuse)
        return parse_config(text, source="goship.yaml")


@pytest.mark.parametrize("name", sorted(FILES))
def test_exact_files_are_built_without_pydantic_and_equal_its_result(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = FILES[name]
    data = {k: v for k, v in (yaml.safe_load(text) or {}).items() if v is not None}
    direct = _plain.convert(GoshipConfig, data)  # raises NotPlain if the fast path would not take it
    assert direct == parse_config(text, source="goship.yaml") == _by_pydantic(text, monkeypatch)


@pytest.mark.parametrize("name", sorted(COERCED))
def test_values_pydantic_would_coerce_are_left_to_pydantic(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = COERCED[name]
    data = yaml.safe_load(text)
    with pytest.raises(_plain.NotPlain):
        _plain.convert(GoshipConfig, data)
    assert parse_config(text, source="goship.yaml") == _by_pydantic(text, monkeypatch)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_files_get_pydantic_s_errors_with_locations(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError) as fast:
        parse_config(INVALID[name], source="goship.yaml")
    with pytest.raises(ConfigError) as slow:
        _by_pydantic(INVALID[name], monkeypatch)
    assert fast.value.details == slow.value.details and fast.value.details
    assert all(re.match(r"goship\.yaml:\d+:\d+: ", d) for d in fast.value.details)
