"""Shared test helpers: real git repositories in temporary directories, and the real goship command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Reproducible git: no user config, fixed identities; each commit gets its own increasing date.
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Ada Dev",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Dev",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "NO_COLOR": "1",
    "SOURCE_DATE_EPOCH": "1795000000",
    "TZ": "UTC",
}


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)


class Repo:
    """A real git repository to build histories in."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._clock = 1_700_000_000
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        env.update(GIT_ENV)
        env.update(extra)
        return env

    def git(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.path, env=self.env(), capture_output=True, text=True, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
        return done.stdout.strip()

    def write(self, rel: str, text: str) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)

    def gomod(self, dir: str, module_path: str) -> None:
        self.write(f"{dir}/go.mod" if dir != "." else "go.mod", f"module {module_path}\n\ngo 1.22\n")

    def commit(self, message: str, *, files: dict[str, str] | None = None, author: str | None = None) -> str:
        """Commit ``files`` (default: a change in a root file) with ``message``; returns the sha."""
        files = files if files is not None else {"doc.go": f"package shop // {self._clock}\n"}
        for rel, text in files.items():
            self.write(rel, text)
        self.git("add", "-A")
        self._clock += 60
        stamp = f"@{self._clock} +0000"
        extra = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        if author:
            name, email = author.split(" <")
            extra |= {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email.rstrip(">")}
        subprocess.run(
            ["git", "commit", "-q", "--allow-empty", "-F", "-"],
            cwd=self.path,
            env=self.env(**extra),
            input=message,
            text=True,
            check=True,
        )
        return self.git("rev-parse", "HEAD")

    def touch(self, dir: str, message: str) -> str:
        """A commit that changes one file inside ``dir``."""
        self._clock += 1
        rel = "x.go" if dir == "." else f"{dir}/x.go"
        return self.commit(message, files={rel: f"package x // {self._clock}\n"})

    def tag(self, name: str, rev: str = "HEAD") -> None:
        self.git("tag", name, rev)

    def tags(self) -> list[str]:
        return self.git("tag", "--list").split()

    def goship(self, *args: str, cwd: Path | None = None, **env: str) -> Result:
        done = subprocess.run(
            [sys.executable, "-m", "goship", *args],
            cwd=cwd or self.path,
            env=self.env(**env),
            capture_output=True,
            text=True,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    r = Repo(tmp_path / "repo")
    r.gomod(".", "example.com/shop")
    r.commit("chore: start the module")
    yield r
