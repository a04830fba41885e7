"""``goship demo``'s story, as a repository: the example service released as v1.0.0, a feature as
v1.1.0, a release that breaks graceful shutdown as v1.2.0, and one that fails 10 % of its requests as
v1.3.0 — four real commits and tags."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import goship
from goship.errors import UsageError
from goship.git import Git

# Markers in examples/hello/main.go the story edits; a change there must keep them.
_GREETING = "hello from"
_GRACE = 'noGrace: os.Getenv("HELLO_NO_GRACE") == "1"'
_FAIL_RATE = 'os.Getenv("HELLO_FAIL_RATE")'


@dataclass(frozen=True)
class DemoRepo:
    path: Path
    releases: tuple[str, ...]
    """v1.0.0 (the service), v1.1.0 (a feature), v1.2.0 (drops requests on SIGTERM), v1.3.0 (errors)."""


def example_source() -> Path:
    """``examples/hello`` of goship's source tree."""
    here = Path(goship.__file__).resolve().parents[2] / "examples" / "hello"
    if not (here / "main.go").is_file():
        raise UsageError(
            f"goship demo needs the example service, expected at {here}",
            hint="run the demo from a checkout of goship's repository ('make demo')",
        )
    return here


def make_demo_repo(where: Path, *, source: Path | None = None) -> DemoRepo:
    """A git repository at ``where`` holding the three releases of the story."""
    source = source or example_source()
    shutil.copytree(source, where)
    git = Git(
        where,
        env={
            "GIT_AUTHOR_NAME": "goship demo",
            "GIT_AUTHOR_EMAIL": "demo@goship.invalid",
            "GIT_COMMITTER_NAME": "goship demo",
            "GIT_COMMITTER_EMAIL": "demo@goship.invalid",
        },
    )
    git.run("init", "-q", "-b", "main")
    main = where / "main.go"
    text = main.read_text()
    if any(marker not in text for marker in (_GREETING, _GRACE, _FAIL_RATE)):
        raise UsageError(f"{main} has changed: the demo expects {_GREETING!r}, {_GRACE!r} and {_FAIL_RATE!r}")

    def release(message: str, tag: str) -> None:
        git.run("add", "-A")
        git.run("commit", "-q", "-m", message)
        git.run("tag", tag)

    release("feat: hello service", "v1.0.0")
    main.write_text(text.replace(_GREETING, "hi there from"))
    release("feat: a friendlier greeting", "v1.1.0")
    main.write_text(main.read_text().replace(_GRACE, "noGrace: true"))
    release("perf: skip the graceful-shutdown dance", "v1.2.0")
    main.write_text(main.read_text().replace("noGrace: true", _GRACE).replace(_FAIL_RATE, '"0.1"'))
    release("feat: new pricing engine (graceful again, but 10 % of its answers are 500s)", "v1.3.0")
    return DemoRepo(where, ("v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"))
