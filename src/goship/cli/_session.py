"""What every repository command starts with: the repository, its goship.yaml and its Go modules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from goship.config import GoshipConfig, load_config
from goship.git import Git
from goship.ui import console
from goship.versioning.plan import Repository, open_repository


@dataclass(frozen=True)
class Session:
    config: GoshipConfig
    repo: Repository


def open_session(cwd: Path | None = None) -> Session:
    git = Git(cwd or Path.cwd())
    info = git.repo_info()
    config = load_config(info.top)
    repo = open_repository(git, config, info=info)
    for w in repo.warnings:
        console.warn(w)
    return Session(config=config, repo=repo)
