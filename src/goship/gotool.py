"""The one wrapper around the ``go`` command: every call of the Go toolchain goes through :class:`Go`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from goship import _proc
from goship.errors import GoToolError, UsageError


class Go:
    """Runs the Go toolchain in a directory."""

    def __init__(self, cwd: Path, *, program: str = "go", env: Mapping[str, str] | None = None) -> None:
        self.cwd = cwd
        self.program = program
        self.env = dict(env) if env else None

    def run(
        self,
        *args: str,
        check: bool = True,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> _proc.Completed:
        """Run ``go ARGS``; ``env`` is laid over the wrapper's own environment for this call only."""
        argv = [self.program, *args]
        call_env = {**(self.env or {}), **(env or {})} or None
        try:
            done = _proc.run(argv, cwd=cwd or self.cwd, env=call_env)
        except FileNotFoundError as exc:
            raise GoToolError(
                f"the Go toolchain is not installed (looked for {self.program!r} on PATH)",
                hint="install Go 1.22 or newer and put its bin directory on PATH",
            ) from exc
        if check and not done.ok:
            raise self._failed(done)
        return done

    @staticmethod
    def _failed(done: _proc.Completed) -> GoToolError:
        stderr = done.stderr.strip() or "(no output)"
        return GoToolError(f"go {' '.join(done.argv[1:4])} failed:\n{stderr}")

    def version(self) -> str:
        """``go1.26.8``-style version of the toolchain."""
        return self.run("env", "GOVERSION").stdout.strip()

    def env_json(
        self, *names: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """``go env -json NAMES``: the values the go command would use in ``cwd`` with ``env`` applied."""
        done = self.run("env", "-json", *names, cwd=cwd, env=env)
        values: dict[str, str] = json.loads(done.stdout or "{}")
        return values

    def build(
        self,
        package: str,
        *,
        output: Path,
        cwd: Path | None = None,
        flags: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        """``go build FLAGS -o OUTPUT PACKAGE``; ``env`` (GOOS, GOARCH, CGO_ENABLED …) for this build only."""
        self.run("build", *flags, "-o", str(output), package, cwd=cwd, env=env)

    def list_json(
        self, *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """``go list -json ARGS``: the stream of JSON objects go prints, one per package (or module with -m).

        ``args`` may carry ``-json=Field,...`` to ask for fewer fields; a plain ``-json`` is added otherwise.
        """
        flags = args if any(a == "-json" or a.startswith("-json=") for a in args) else ("-json", *args)
        text = self.run("list", *flags, cwd=cwd, env=env).stdout
        # go list prints concatenated objects, not one JSON document.
        decoder, i = json.JSONDecoder(), 0
        out: list[dict[str, Any]] = []
        while True:
            while i < len(text) and text[i].isspace():
                i += 1
            if i == len(text):
                return out
            item, i = decoder.raw_decode(text, i)
            out.append(item)

    def version_m(self, binary: Path, *, json_output: bool = False) -> str:
        """``go version -m [-json] BINARY``: the build information embedded in a Go binary, as go prints it."""
        done = self.run("version", "-m", *(["-json"] if json_output else []), str(binary), check=False)
        if done.ok:
            return done.stdout
        if not done.stderr.strip() and binary.is_file():
            # go version answers a file that is no Go binary (or has no build information) with exit 1 alone.
            raise UsageError(
                f"{binary} is not a Go binary with build information",
                hint="build it with Go 1.18 or newer in module mode",
            )
        raise self._failed(done)
