"""How hard goship tries again after a transient fault (a 5xx, a 429, a dropped connection), for every
remote it talks to: the registry, the Kubernetes API server. One policy type, each remote its defaults."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """Tries, and the wait between them: doubling from ``base_delay`` up to ``max_delay``, optionally with
    jitter, within an optional time budget; a server's ``Retry-After`` is honoured up to ``max_delay``."""

    attempts: int = 5
    """Tries per request, the first included."""
    base_delay: float = 0.5
    """Seconds before the second try; each later try waits twice as long, up to ``max_delay``."""
    max_delay: float = 30.0
    """The longest wait between tries, also for a ``Retry-After`` that asks for more."""
    budget: float | None = None
    """Seconds from the first try after which no further try is started (None: only ``attempts``)."""
    jitter: float = 0.0
    """The share of each wait drawn at random, so that many clients do not come back in step."""
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)
    draw: Callable[[], float] = field(default=random.random, compare=False, repr=False)
    """A number in [0, 1): the jitter's source."""

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait after failed try number ``attempt`` (from 1); the server's ``retry_after`` if it gave one."""
        if retry_after is not None:
            return min(self.max_delay, retry_after)
        capped = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return capped * (1 - self.jitter) + capped * self.jitter * self.draw()

    def another(self, attempt: int, *, spent: float, wait: float) -> bool:
        """Whether to try again after failed try ``attempt``, ``spent`` seconds in, waiting ``wait`` first."""
        if attempt >= self.attempts:
            return False
        return self.budget is None or spent + wait <= self.budget


__all__ = ["Backoff"]
