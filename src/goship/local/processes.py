"""Replica processes: each leads its own process group, so a kill reaches whatever it started, and a
crashed one is restarted under the kubelet's CrashLoopBackOff."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from goship import _proc

__all__ = ["Process", "RestartBackoff", "Spawner"]


class Process(Protocol):
    """What the supervisor needs of a running process (``subprocess.Popen`` has it)."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None:
        """The exit code (negative: the signal) once it has exited, else None; reaps it."""
        ...

    def send_signal(self, sig: int, /) -> None: ...

    def kill(self) -> None:
        """SIGKILL to it and everything it started."""
        ...


class Spawner(Protocol):
    """Starts a process (:func:`goship._proc.spawn`'s signature)."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None,
        cwd: Path,
        stdout: IO[bytes],
        stderr: IO[bytes],
    ) -> Process: ...


class _ProcessGroup:
    """A spawned process that leads its own process group, so SIGKILL reaches whatever it started, as
    killing a container kills everything in it; and when it exits, what it left running is killed."""

    def __init__(self, popen: Any) -> None:
        self._popen = popen
        self._swept = False

    @property
    def pid(self) -> int:
        return int(self._popen.pid)

    def poll(self) -> int | None:
        code = self._popen.poll()
        if code is None:
            return None
        if not self._swept:
            # As when a container's main process ends: whatever it started goes with it.
            self._swept = True
            self.kill()
        return int(code)

    def send_signal(self, sig: int, /) -> None:
        self._popen.send_signal(sig)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)


def _spawn_group(
    argv: Sequence[str], *, env: Mapping[str, str] | None, cwd: Path, stdout: IO[bytes], stderr: IO[bytes]
) -> Process:
    return _ProcessGroup(_proc.spawn(argv, env=env, cwd=cwd, stdout=stdout, stderr=stderr))


class RestartBackoff:
    """One replica's restart back-off, as the kubelet's ``flowcontrol.Backoff`` (without jitter): the
    first restart is immediate, each later one waits twice as long as the one before (``base``, then
    doubling up to ``cap``) counted from the crash, and a crash more than ``2 × cap`` after the last
    restart starts over."""

    def __init__(self, base_s: float, cap_s: float) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self._delay: float | None = None
        self._last_restart = 0.0

    def _expired(self, crashed_at: float) -> bool:
        return self._delay is None or crashed_at - self._last_restart > 2 * self.cap_s

    def restart_at(self, crashed_at: float) -> float:
        """When a process that exited at ``crashed_at`` may be started again."""
        if self._expired(crashed_at):
            return crashed_at
        assert self._delay is not None
        return crashed_at + self._delay

    def restarted(self, crashed_at: float, now: float) -> None:
        """Note a restart (at ``now``) after the crash at ``crashed_at``: the next wait doubles."""
        if self._expired(crashed_at) or self._delay is None:
            self._delay = self.base_s
        else:
            self._delay = min(self._delay * 2, self.cap_s)
        self._last_restart = now


def _signal(process: Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited on its own; the next pass reaps it
        process.send_signal(sig)
