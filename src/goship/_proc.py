"""The subprocess runner under the ``git`` and ``go`` wrappers: no shell, text in and out, typed result."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class Completed:
    """What a finished command left behind."""

    argv: tuple[str, ...]
    """The full argument vector, program first."""
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
) -> Completed:
    """Run ``argv`` in ``cwd``; raises ``FileNotFoundError`` when the program is missing."""
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    proc = subprocess.run(
        list(argv),
        cwd=cwd,
        env=full_env,
        input=input,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        check=False,
    )
    return Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    cwd: Path,
    stdout: int | IO[bytes] | None,
    stderr: int | IO[bytes] | None,
) -> subprocess.Popen[bytes]:
    """Start a long-running ``argv`` in ``cwd`` and return at once; ``env`` is laid over this process's
    environment, as in :func:`run`. The child gets its own session, so a Ctrl-C meant for goship does not
    reach it (its owner stops it, in order) and its whole process group can be signalled. Raises
    ``FileNotFoundError`` when the program is missing."""
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
    )
