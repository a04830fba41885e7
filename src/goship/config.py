"""goship.yaml: the models of the optional config file at the repository root, and its loader.

Everything has a default; a file with problems is refused with every problem listed at once, each at
its ``file:line:col``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from goship import semver
from goship.errors import ConfigError

CONFIG_FILE = "goship.yaml"

Bump = Literal["major", "minor", "patch", "none"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VersioningConfig(_Model):
    """How conventional commits turn into the next version."""

    bump_types: dict[str, Bump] = Field(
        default_factory=lambda: {"feat": "minor", "fix": "patch", "perf": "patch", "revert": "patch"},
        description="Conventional-commit type → the bump it causes; unlisted types cause none. "
        "A breaking change ('!' or a BREAKING CHANGE footer) always bumps major.",
    )
    breaking_before_v1: Literal["minor", "major"] = Field(
        "minor",
        description="What a breaking change bumps while the module is below v1.0.0 (Go: v0 promises nothing).",
    )
    initial_version: str = Field(
        "v0.1.0",
        description="The first release of a module without release tags (a /vN module starts at vN.0.0).",
    )

    @field_validator("initial_version")
    @classmethod
    def _canonical_release(cls, value: str) -> str:
        if semver.canonical(value) != value or semver.prerelease(value):
            raise ValueError(f"expected a version like v0.1.0 or v1.0.0 (found {value!r})")
        return value

    @field_validator("bump_types")
    @classmethod
    def _lowercase_types(cls, value: dict[str, Bump]) -> dict[str, Bump]:
        return {k.lower(): v for k, v in value.items()}


class ChangelogConfig(_Model):
    """How release notes are written."""

    commit_url: str | None = Field(
        None,
        description="Link for a commit, with {sha} in it; by default derived from the 'origin' remote "
        "for GitHub, GitLab, Bitbucket, Gitea and similar hosts.",
    )
    bots: list[str] = Field(
        default_factory=lambda: ["dependabot[bot]", "renovate[bot]", "dependabot-preview[bot]"],
        description="Authors whose dependency bumps are folded into one Dependencies line.",
    )
    hidden_types: list[str] = Field(
        default_factory=lambda: ["chore", "docs", "style", "test", "ci", "build"],
        description="Conventional-commit types left out of release notes (unless breaking).",
    )

    @field_validator("commit_url")
    @classmethod
    def _has_sha(cls, value: str | None) -> str | None:
        if value is not None and "{sha}" not in value:
            raise ValueError(f"expected a URL template containing {{sha}} (found {value!r})")
        return value


class TagsConfig(_Model):
    """How release tags are made and shared."""

    remote: str = Field("origin", description="The remote 'goship tag --push' pushes to.")
    sign: bool = Field(False, description="Sign every tag (as 'goship tag --sign'), with git's signing config.")


class ModulesConfig(_Model):
    """Which Go modules of the repository goship releases."""

    exclude: list[str] = Field(
        default_factory=list,
        description="Module directories (relative to the repository root) goship leaves alone.",
    )


class GoshipConfig(_Model):
    """The whole of goship.yaml."""

    versioning: VersioningConfig = Field(default_factory=VersioningConfig)  # type: ignore[arg-type]
    changelog: ChangelogConfig = Field(default_factory=ChangelogConfig)  # type: ignore[arg-type]
    tags: TagsConfig = Field(default_factory=TagsConfig)  # type: ignore[arg-type]
    modules: ModulesConfig = Field(default_factory=ModulesConfig)


def load_config(top: Path) -> GoshipConfig:
    """The effective config of the repository at ``top`` (defaults when there is no goship.yaml)."""
    path = top / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return GoshipConfig()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_config(text, source=CONFIG_FILE)


def parse_config(text: str, *, source: str) -> GoshipConfig:
    """Validate goship.yaml's text; every problem is reported at once with its location."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{where}: {source} is not valid YAML: {problem}",
            hint="check the indentation and quoting around that line",
        ) from exc
    if data is None:
        return GoshipConfig()
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}:1:1: expected a mapping of settings at the top (found {type(data).__name__})",
            hint="see 'goship config schema' for the settings",
        )
    try:
        return GoshipConfig.model_validate(data)
    except ValidationError as exc:
        marks = _marks(node)
        lines = []
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            line, col = _nearest_mark(marks, loc)
            dotted = ".".join(loc) or "(top)"
            lines.append(f"{source}:{line}:{col}: {dotted}: {_describe(err)}")
        count = len(lines)
        raise ConfigError(
            f"{source} has {count} problem{'s' if count != 1 else ''}",
            details=lines,
            hint="'goship config schema' prints every setting with its type and default",
        ) from exc


def _describe(err: Any) -> str:
    kind = err["type"]
    found = err.get("input")
    if kind == "extra_forbidden":
        return "unknown setting"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    if kind == "literal_error":
        expected = msg.removeprefix("Input should be ")
        return f"expected {expected} (found {found!r})"
    return f"{msg[0].lower()}{msg[1:]} (found {found!r})"


def _marks(node: yaml.Node | None) -> dict[tuple[str, ...], tuple[int, int]]:
    """Map every key path of the YAML document to the line and column of its value."""
    out: dict[tuple[str, ...], tuple[int, int]] = {}

    def walk(n: yaml.Node, path: tuple[str, ...]) -> None:
        out[path] = (n.start_mark.line + 1, n.start_mark.column + 1)
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                child = (*path, str(key.value))
                walk(value, child)
                # Unknown keys are reported at the key itself.
                out[(*child, "__key__")] = (key.start_mark.line + 1, key.start_mark.column + 1)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*path, str(i)))

    if node is not None:
        walk(node, ())
    return out


def _nearest_mark(marks: dict[tuple[str, ...], tuple[int, int]], loc: tuple[str, ...]) -> tuple[int, int]:
    if (*loc, "__key__") in marks:
        return marks[(*loc, "__key__")]
    for end in range(len(loc), -1, -1):
        if loc[:end] in marks:
            return marks[loc[:end]]
    return (1, 1)


def config_schema() -> dict[str, Any]:
    """The JSON Schema of goship.yaml, for editors."""
    schema = GoshipConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "goship.yaml"
    return schema
