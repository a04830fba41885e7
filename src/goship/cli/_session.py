"""What every repository command starts with: the repository, its goship.yaml and its Go modules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from goship.config import GoshipConfig, load_config
from goship.git import Git, RepoInfo
from goship.ui import console
from goship.versioning.plan import Repository, open_repository


@dataclass(frozen=True)
class Workspace:
    """A repository's top, its git and its config: enough for commands that do not read tags."""

    git: Git
    info: RepoInfo
    config: GoshipConfig

    @property
    def top(self) -> Path:
        return self.info.top

    def top_git(self) -> Git:
        return self.git.at(self.info.top)


@dataclass(frozen=True)
class Session:
    config: GoshipConfig
    repo: Repository


def open_workspace(cwd: Path | None = None) -> Workspace:
    git = Git(cwd or Path.cwd())
    info = git.repo_info()
    return Workspace(git=git, info=info, config=load_config(info.top))


def open_session(cwd: Path | None = None) -> Session:
    ws = open_workspace(cwd)
    repo = open_repository(ws.git, ws.config, info=ws.info)
    for w in repo.warnings:
        console.warn(w)
    return Session(config=ws.config, repo=repo)
