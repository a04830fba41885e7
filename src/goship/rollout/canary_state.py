"""The persisted state of one canary (DESIGN.md principle 6): phase, step, judge state, counters and the
decision log, written atomically (temp file, fsync, rename) after every transition so that a later run
can resume or abort it.

The file is one JSON object, ``{"format": 1, ...}`` with the fields of :class:`CanaryState`; the judge's
state is stored as ``{"type": "SequentialState", "fields": {...}}`` (``null`` for stateless judges).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from goship.errors import UsageError
from goship.rollout.judges import JudgeState, Outcome, SequentialState

FORMAT = 1

Phase = Literal[
    "initializing",
    "progressing",
    "awaiting-promotion",
    "promoting",
    "succeeded",
    "rolling-back",
    "failed",
]
ACTIVE_PHASES: frozenset[str] = frozenset(
    {"initializing", "progressing", "awaiting-promotion", "promoting", "rolling-back"}
)
"""Phases in which a canary is under way; a second start is refused while one of these is persisted."""

# Judge states are dataclasses of numbers and tuples; the name tells which class to rebuild.
JUDGE_STATES: Mapping[str, type[JudgeState]] = {"SequentialState": SequentialState}


@dataclass(frozen=True)
class Decision:
    """One analysis of the canary, with everything needed to explain its verdict."""

    time: float
    """Clock time (seconds since the epoch) when the analysis was made."""
    step: int
    """Index of the step in the spec's weight list."""
    weight: int
    """Percent of traffic the canary had during the window."""
    window_s: float
    """Length of the metrics window analysed."""
    judge: str
    """Name of the judge that gave the verdict (``engine`` for the engine's own checks)."""
    samples: Mapping[str, int]
    """Requests the verdict rests on, per version: ``{"stable": n, "canary": n}``."""
    values: Mapping[str, float]
    """Computed figures and thresholds (error rates, quantiles, e-value, bounds...)."""
    verdict: Outcome
    """``pass``, ``fail`` or ``wait``."""
    reason: str
    """One sentence for a person, with the numbers that decided it."""
    failures: int = 0
    """Consecutive failed analyses after this one (rollback at the spec's failure threshold)."""
    metric: str = ""
    """What was measured: ``error rate`` (requests and errors per version) or ``requests`` (the engine's
    own check that the canary had enough traffic to judge)."""
    source: str = ""
    """Where the numbers came from (a metrics source and its query or endpoint)."""


@dataclass(frozen=True)
class Event:
    """An action the engine took on the ports or on the phase, in order."""

    time: float
    """Clock time of the action."""
    kind: str
    """``phase``, ``traffic``, ``scale`` or ``note``."""
    message: str
    """What was done, for a person."""


@dataclass(frozen=True)
class CanaryState:
    """Where one canary stands; every field survives a restart of goship."""

    stable: str
    """Revision serving production before the canary."""
    canary: str
    """Revision under test."""
    phase: Phase
    """Where the state machine is."""
    weights: tuple[int, ...]
    """Canary traffic percent per step, as planned at the start."""
    judge: str
    """Judge name (a key of ``JUDGES``)."""
    started: float
    """Clock time the canary started."""
    step: int = 0
    """Index into ``weights`` of the current step."""
    step_started: float = 0.0
    """Clock time the current step began (its deadline counts from here)."""
    paused: bool = False
    """Analyses go on but the canary neither advances nor is promoted until resumed."""
    failures: int = 0
    """Consecutive failed analyses."""
    last_analysis: float | None = None
    """Clock time of the latest analysis; ``None`` before the first."""
    last_outcome: Outcome | None = None
    """Verdict of the latest analysis."""
    judge_state: JudgeState | None = None
    """What the judge carries from one analysis to the next."""
    reason: str = ""
    """Why the canary is in its phase (set on rollback, failure and success)."""
    decisions: tuple[Decision, ...] = ()
    """Every analysis, oldest first."""
    events: tuple[Event, ...] = ()
    """Every action, oldest first."""
    target: Mapping[str, Any] = field(default_factory=dict)
    """What the controller running the canary needs to take it over after a crash (for the local runtime:
    the images of both versions and the spec); the engine only keeps it."""

    @property
    def active(self) -> bool:
        """Whether the canary is still under way."""
        return self.phase in ACTIVE_PHASES

    @property
    def weight(self) -> int:
        """Canary traffic percent of the current step."""
        return self.weights[min(self.step, len(self.weights) - 1)]


def _judge_state_to_json(state: JudgeState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {"type": type(state).__name__, "fields": dataclasses.asdict(state)}


def _judge_state_from_json(doc: Mapping[str, Any] | None) -> JudgeState | None:
    if doc is None:
        return None
    cls = JUDGE_STATES.get(str(doc.get("type")))
    if cls is None:
        raise UsageError(
            f"expected a judge state of type {', '.join(sorted(JUDGE_STATES))} (got {doc.get('type')!r})"
        )
    # JSON has no tuples; judge states hold tuples of numbers only.
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(doc["fields"]).items()}
    return cls(**fields)


def to_json(state: CanaryState) -> dict[str, Any]:
    """The state as a JSON-ready document (the state file's content)."""
    doc = dataclasses.asdict(dataclasses.replace(state, judge_state=None))
    doc["judge_state"] = _judge_state_to_json(state.judge_state)
    return {"format": FORMAT, **doc}


def from_json(doc: Mapping[str, Any]) -> CanaryState:
    """Rebuild a state from :func:`to_json`'s document."""
    if doc.get("format") != FORMAT:
        raise UsageError(f"expected canary state format {FORMAT} (got {doc.get('format')!r})")
    try:
        return CanaryState(
            stable=doc["stable"],
            canary=doc["canary"],
            phase=doc["phase"],
            weights=tuple(doc["weights"]),
            judge=doc["judge"],
            started=doc["started"],
            step=doc["step"],
            step_started=doc["step_started"],
            paused=doc["paused"],
            failures=doc["failures"],
            last_analysis=doc["last_analysis"],
            last_outcome=doc["last_outcome"],
            judge_state=_judge_state_from_json(doc["judge_state"]),
            reason=doc["reason"],
            decisions=tuple(Decision(**d) for d in doc["decisions"]),
            events=tuple(Event(**e) for e in doc["events"]),
            target=dict(doc.get("target") or {}),
        )
    except (KeyError, TypeError) as exc:
        raise UsageError(f"the canary state file is not one goship wrote: {exc}") from exc


def refuse_if_active(state: CanaryState | None, *, where: str | None = None, flags: str = "") -> None:
    """Refuse a second canary while ``state`` is an active one: the error says which canary runs (and
    where its state is kept), the hint the commands that continue or stop it, each with ``flags`` (e.g.
    `` --target kubernetes``)."""
    if state is None or not state.active:
        return
    kept = f", {where}" if where else ""
    raise UsageError(
        f"a canary of {state.canary} against {state.stable} is already {state.phase} "
        f"(step {state.step + 1} of {len(state.weights)}{kept})",
        hint=f"see 'goship canary status{flags}'; continue it with 'goship canary resume{flags}' "
        f"or stop it with 'goship canary abort{flags}'",
    )


class StateStore(Protocol):
    """Where a canary's state lives between transitions (a file, a Kubernetes annotation); every process
    that acts on the canary reads and writes it there."""

    @property
    def where(self) -> str:
        """Said in messages: ``state file /…/canary.json``."""
        ...

    def load(self) -> CanaryState | None:
        """The persisted state, or ``None`` when no canary was started here."""
        ...

    def save(self, state: CanaryState) -> None:
        """Persist ``state`` whole (a reader never sees half of it)."""
        ...


@dataclass(frozen=True)
class FileState:
    """The state in a JSON file (the local runtime's)."""

    path: Path

    @property
    def where(self) -> str:
        return f"state file {self.path}"

    def load(self) -> CanaryState | None:
        return load(self.path)

    def save(self, state: CanaryState) -> None:
        save(self.path, state)


def save(path: Path, state: CanaryState) -> None:
    """Write the state atomically: a reader (or a crash) never sees half of a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(to_json(state), f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path) -> CanaryState | None:
    """The persisted state, or ``None`` when there is no state file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"the canary state file {path} is not JSON: {exc}") from exc
    return from_json(doc)
