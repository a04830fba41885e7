"""The ``MetricsSource`` port (DESIGN.md principle 3) over Prometheus: a window of one version is the
answers of its template's instant queries at one moment, ``increase()`` for counts and
``histogram_quantile()`` over ``rate()`` for latency.

No data is not an error: a version without series, or without traffic in the window, gets 0 requests and no
latency quantiles, so the canary engine's "fewer than min_requests → wait" rule applies until the step's
deadline. Prometheus failing, or refusing a query, is a :class:`~goship.errors.RemoteError`.

``increase()`` extrapolates to the window's edges (promql/functions.go, extrapolatedRate), so counts are
rounded to whole requests and are exact only when the window starts and ends on scrapes; rates, error
ratios and quantiles are not affected as long as a version's series cover the window alike.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from goship.errors import UsageError
from goship.rollout.ports import VersionMetrics
from goship.rollout.prometheus.client import PrometheusClient, QueryResult
from goship.rollout.prometheus.templates import Metric, QueryTemplate

__all__ = ["MetricQuery", "PrometheusMetrics"]


@dataclass(frozen=True)
class MetricQuery:
    """One query a window runs, as the decision log records it."""

    version: str
    metric: Metric
    """``requests``, ``errors`` or ``latency``."""
    query: str
    """The PromQL sent, placeholders filled in."""
    window_s: float
    quantile: float | None = None
    """For ``latency``: which quantile."""

    @property
    def name(self) -> str:
        """``requests``, ``errors``, ``latency_p99`` …"""
        return self.metric if self.quantile is None else f"latency_p{self.quantile * 100:g}"


class PrometheusMetrics:
    """Requests, errors and latency quantiles per version from Prometheus, by a :class:`QueryTemplate`."""

    def __init__(
        self,
        client: PrometheusClient,
        template: QueryTemplate,
        *,
        quantiles: Sequence[float] = (0.5, 0.99),
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` gives the evaluation time of a window's queries (all of them use the same one), in
        seconds since the epoch, on the clock Prometheus stamps samples with."""
        bad = [q for q in quantiles if not 0.0 <= q <= 1.0]
        if bad:
            raise UsageError(f"expected latency quantiles between 0 and 1, like 0.99 (got {bad})")
        self.client = client
        self.template = template
        self.quantiles = tuple(q for q in quantiles if template.has_latency(q))
        self.clock = clock

    @property
    def source(self) -> str:
        """Where the figures come from, for the decision log: ``prometheus http://… (istio)``."""
        return f"prometheus {self.client.shown_url} ({self.template.name})"

    def describe(self, versions: Sequence[str], seconds: float) -> tuple[MetricQuery, ...]:
        """Every query :meth:`window` sends for these versions and window, in the order it sends them."""
        out: list[MetricQuery] = []
        for version in versions:
            for metric in ("requests", "errors"):
                out.append(
                    MetricQuery(version, metric, self.template.render(metric, version, seconds), seconds)
                )
            for q in self.quantiles:
                out.append(
                    MetricQuery(
                        version, "latency", self.template.render("latency", version, seconds, q), seconds, q
                    )
                )
        return tuple(out)

    def window(self, versions: Sequence[str], seconds: float) -> Mapping[str, VersionMetrics]:
        """Each version's requests, errors and latency quantiles over the ``seconds`` before now."""
        at = self.clock()
        answers: dict[tuple[str, Metric, float | None], float | None] = {}
        for asked in self.describe(versions, seconds):
            answers[asked.version, asked.metric, asked.quantile] = _value(
                self.client.query(asked.query, at=at)
            )
        out: dict[str, VersionMetrics] = {}
        for version in versions:
            requests = _count(answers[version, "requests", None])
            errors = min(_count(answers[version, "errors", None]), requests)
            latency: dict[float, float] = {}
            for q in self.quantiles if requests else ():
                value = answers[version, "latency", q]
                # NaN: series without observations in the window; ±Inf: no finite bucket to answer with.
                if value is not None and math.isfinite(value):
                    latency[q] = value * self.template.latency_unit_ms
            out[version] = VersionMetrics(requests=requests, errors=errors, latency_ms=latency)
        return out


def _value(result: QueryResult) -> float | None:
    """The one number a template query answers; ``None`` for an empty vector (no series yet)."""
    if result.type == "matrix":
        raise UsageError(
            f"expected one number from `{result.query}` (got a range vector)",
            hint="wrap the range selector in a function such as increase() or rate()",
        )
    if not result.samples:
        return None
    if len(result.samples) > 1:
        shown = ", ".join(
            "{" + ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items())) + "}"
            for s in result.samples[:3]
        )
        raise UsageError(
            f"expected one number from `{result.query}` (got {len(result.samples)} series: {shown})",
            hint="aggregate the query, like sum(...), so it answers one value per version",
        )
    return result.samples[0].value


def _count(value: float | None) -> int:
    """A count from ``increase()``: NaN or nothing (no series, too few samples) is 0, extrapolation is
    rounded away."""
    if value is None or not math.isfinite(value) or value < 0:
        return 0
    return round(value)
