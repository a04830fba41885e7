"""The one exception tree of goship, and the exit code each branch means.

    GoshipError                 exit 2 unless a subclass says otherwise
    ├── CheckFailedError        exit 1  a check or gate refused (dirty tree, tag exists, major mismatch)
    ├── UsageError              exit 2  bad arguments or a repository goship cannot work on
    │   └── ConfigError         exit 2  goship.yaml is invalid (every problem listed at once)
    ├── EnvironmentFailure      exit 3  a tool or the machine failed (git, go)
    │   ├── GitError            exit 3
    │   └── GoToolError         exit 3
    └── RemoteError             exit 4  a remote service failed or refused (registry, cluster)
        └── RegistryError       exit 4  an OCI registry answered with an error, or not at all

Every error carries a message (what was expected, what was found) and, where it helps, a hint.
The CLI prints them as ``error:`` / ``hint:`` lines; a traceback is shown only for bugs.
"""

from __future__ import annotations


class GoshipError(Exception):
    """Base of every error goship reports to a person."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or []


class CheckFailedError(GoshipError):
    """A check or gate refused to go on."""

    exit_code = 1


class UsageError(GoshipError):
    """Arguments, flags or the repository are not what goship can work with."""

    exit_code = 2


class ConfigError(UsageError):
    """goship.yaml is invalid; ``details`` holds one line per problem, each with its location."""


class EnvironmentFailure(GoshipError):
    """A tool goship calls, or the machine, failed."""

    exit_code = 3


class GitError(EnvironmentFailure):
    """``git`` failed; the message keeps its stderr."""


class GoToolError(EnvironmentFailure):
    """The ``go`` command failed; the message keeps its stderr."""


class RemoteError(GoshipError):
    """A remote service (registry, cluster) failed or refused; messages never carry credentials."""

    exit_code = 4


class RegistryError(RemoteError):
    """An OCI registry answered with an error (its error JSON turned into words), or not at all."""
