"""The one wrapper around the ``go`` command: every call of the Go toolchain goes through :class:`Go`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from goship import _proc
from goship.errors import GoToolError


class Go:
    """Runs the Go toolchain in a directory."""

    def __init__(self, cwd: Path, *, program: str = "go", env: Mapping[str, str] | None = None) -> None:
        self.cwd = cwd
        self.program = program
        self.env = dict(env) if env else None

    def run(self, *args: str, check: bool = True, cwd: Path | None = None) -> _proc.Completed:
        argv = [self.program, *args]
        try:
            done = _proc.run(argv, cwd=cwd or self.cwd, env=self.env)
        except FileNotFoundError as exc:
            raise GoToolError(
                f"the Go toolchain is not installed (looked for {self.program!r} on PATH)",
                hint="install Go 1.22 or newer and put its bin directory on PATH",
            ) from exc
        if check and not done.ok:
            stderr = done.stderr.strip() or "(no output)"
            raise GoToolError(f"go {' '.join(args[:3])} failed:\n{stderr}")
        return done

    def version(self) -> str:
        """``go1.26.8``-style version of the toolchain."""
        return self.run("env", "GOVERSION").stdout.strip()

    def build(self, package: str, *, output: Path, cwd: Path | None = None) -> None:
        self.run("build", "-o", str(output), package, cwd=cwd)
