"""Helpers for image tests: a repository with a Go service that prints what goship injected."""

from __future__ import annotations

from tests.conftest import Repo

MAIN = """package main

import "fmt"

var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

func main() { fmt.Println("orders", version, commit, date) }
"""


def add_service(repo: Repo, name: str = "orders", *, message: str = "feat: orders service") -> str:
    """A main package at cmd/<name> in the root module; returns the commit."""
    return repo.commit(message, files={f"cmd/{name}/main.go": MAIN.replace("orders", name)})
