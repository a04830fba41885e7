"""A small client of Prometheus' HTTP API (``GET /api/v1/query`` and ``/api/v1/query_range``, as
prometheus.io/docs/prometheus/latest/querying/api/ describes them): instant and range queries, their
``vector``, ``scalar`` and ``matrix`` results as values, and every failure — Prometheus' error JSON, an HTTP
error from a proxy in front of it, a network failure, a timeout — as a :class:`~goship.errors.RemoteError`
that names the query asked, what came back, and what to check.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from goship import _http
from goship.errors import RemoteError, UsageError
from goship.rollout.prometheus.templates import duration

__all__ = ["PrometheusClient", "QueryResult", "ResultType", "Sample", "Series"]

ResultType = Literal["vector", "scalar", "matrix"]

_SHOWN_QUERY = 300
_SHOWN_BODY = 300


@dataclass(frozen=True)
class Sample:
    """One value of an instant query: a series' labels, the evaluation time, the value."""

    labels: Mapping[str, str]
    """The series' labels (empty for a scalar or an aggregate without ``by``)."""
    time: float
    """Seconds since the epoch."""
    value: float
    """May be NaN or ±Inf, as Prometheus answers them."""


@dataclass(frozen=True)
class Series:
    """One series of a range query."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]
    """``(time, value)`` pairs, oldest first."""


@dataclass(frozen=True)
class QueryResult:
    """What Prometheus answered to one query."""

    query: str
    """The PromQL sent."""
    type: ResultType
    samples: tuple[Sample, ...] = ()
    """A ``vector``'s samples; a ``scalar`` is one sample without labels."""
    series: tuple[Series, ...] = ()
    """A ``matrix``'s series."""
    warnings: tuple[str, ...] = ()
    """Prometheus' warnings (a partial answer, say)."""


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: Any, query: str) -> float:
    try:
        return float(value)  # Prometheus sends "1.5", "NaN", "+Inf", "-Inf" as strings
    except (TypeError, ValueError) as exc:
        raise RemoteError(
            f"Prometheus answered `{_short(query, _SHOWN_QUERY)}` with a value that is not a number: {value!r}"
        ) from exc


def parse_result(query: str, data: Any, warnings: tuple[str, ...] = ()) -> QueryResult:
    """The ``data`` member of a successful answer as a :class:`QueryResult`."""
    try:
        kind, result = data["resultType"], data["result"]
        if kind == "scalar":
            return QueryResult(
                query, "scalar", (Sample({}, float(result[0]), _number(result[1], query)),), (), warnings
            )
        if kind == "vector":
            samples = tuple(
                Sample(dict(item["metric"]), float(item["value"][0]), _number(item["value"][1], query))
                for item in result
            )
            return QueryResult(query, "vector", samples, (), warnings)
        if kind == "matrix":
            series = tuple(
                Series(
                    dict(item["metric"]),
                    tuple((float(t), _number(v, query)) for t, v in item["values"]),
                )
                for item in result
            )
            return QueryResult(query, "matrix", (), series, warnings)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise RemoteError(
            f"Prometheus answered `{_short(query, _SHOWN_QUERY)}` with data goship cannot read: "
            f"{_short(repr(data), _SHOWN_BODY)}",
            hint="is the address a Prometheus HTTP API (or a compatible one)?",
        ) from exc
    raise UsageError(
        f"expected a vector, scalar or matrix from `{_short(query, _SHOWN_QUERY)}` (got a {kind!r} result)"
    )


# Prometheus' errorType values → what a person should check.
_ERROR_HINTS = {
    "bad_data": "the PromQL or a parameter is not valid: check the query template "
    "(custom queries keep the placeholders {version}, {window} and {quantile})",
    "execution": "the query is valid but failed while running: check the metric types it uses "
    "(increase() wants counters, histogram_quantile() _bucket series)",
    "timeout": "Prometheus gave up on the query: shorten the window, or raise its --query.timeout",
    "canceled": "Prometheus canceled the query (it may be shutting down); try again",
    "unavailable": "Prometheus is not ready to answer (starting, or replaying its WAL); try again shortly",
    "not_found": "check the Prometheus base URL",
}


def _status_hint(status: int, url: str) -> str | None:
    if status in (401, 403):
        return "Prometheus (or the proxy in front of it) refused the credentials: check the bearer token or basic auth"
    if status == 404:
        return (
            f"there is no Prometheus HTTP API at {url}/api/v1: give the base URL without /api/v1 "
            "(a hosted Prometheus may need its path prefix, like https://host/prometheus)"
        )
    if status == 429:
        return "the Prometheus service is rate limiting goship: analyse less often or ask for a higher limit"
    if status >= 500:
        return "Prometheus or a proxy in front of it failed; try again, and check its log"
    return None


class PrometheusClient:
    """Runs PromQL against one Prometheus (or a compatible hosted service) over its HTTP API."""

    def __init__(
        self,
        url: str,
        *,
        http: Callable[[float], _http.Client] | None = None,
        timeout_s: float = 10.0,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """``url`` is the base (``http://prometheus:9090``, or a hosted service's prefix; a user and password
        in it are sent as basic auth); ``timeout_s`` bounds each query, on Prometheus' side (its ``timeout``
        parameter) and on ours. ``http`` makes the HTTP client, given the seconds one read may take, when
        the first query is sent (:class:`goship._http.Client` by default); :meth:`close` closes it."""
        parts = urlsplit(url.rstrip("/"))
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise UsageError(f"expected a Prometheus URL like http://prometheus:9090 (got {url!r})")
        if bearer_token is not None and basic_auth is not None:
            raise UsageError("expected a bearer token or basic auth for Prometheus, not both")
        if parts.username is not None and bearer_token is None and basic_auth is None:
            basic_auth = (unquote(parts.username), unquote(parts.password or ""))
        if not math.isfinite(timeout_s) or timeout_s <= 0:
            raise UsageError(f"expected a positive Prometheus timeout (got {timeout_s!r})")
        # Shown in messages and the decision log: never the user:password a URL may carry (they travel in
        # the Authorization header).
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = host + (f":{port}" if port else "")
        self.shown_url = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        self.url = self.shown_url
        self.timeout_s = timeout_s
        self._headers = dict(headers or {})
        if bearer_token is not None:
            self._headers["Authorization"] = f"Bearer {bearer_token}"
        elif basic_auth is not None:
            pair = f"{basic_auth[0]}:{basic_auth[1]}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        self._make_http = http or (lambda timeout: _http.Client(timeout=timeout, connect_timeout=timeout))
        self._http: _http.Client | None = None

    def query(self, promql: str, *, at: float | None = None) -> QueryResult:
        """An instant query evaluated at ``at`` (seconds since the epoch; Prometheus' now when ``None``)."""
        params = {"query": promql, "timeout": duration(self.timeout_s)}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self._call("/api/v1/query", params, promql)

    def query_range(self, promql: str, *, start: float, end: float, step_s: float) -> QueryResult:
        """A range query: ``promql`` evaluated every ``step_s`` seconds from ``start`` to ``end``."""
        if end < start or step_s <= 0:
            raise UsageError(
                f"expected start <= end and a positive step for a range query (got {start}, {end}, {step_s})"
            )
        params = {
            "query": promql,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": duration(step_s),
            "timeout": duration(self.timeout_s),
        }
        return self._call("/api/v1/query_range", params, promql)

    def close(self) -> None:
        """Close the HTTP client and its connections; a later query opens new ones."""
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _client(self) -> _http.Client:
        if self._http is None:
            # A little longer than Prometheus' own timeout, so that its answer (timeout errorType) wins.
            self._http = self._make_http(self.timeout_s + 5)
        return self._http

    def _call(self, path: str, params: Mapping[str, str], promql: str) -> QueryResult:
        asked = f"`{_short(promql, _SHOWN_QUERY)}`"
        details = [f"query: {promql}"]
        client = self._client()
        try:
            response = client.request(
                "GET", _http.merge_params(self.url + path, params), headers=self._headers
            )
        except _http.TimedOutError as exc:
            raise RemoteError(
                f"Prometheus at {self.shown_url} did not answer {asked} within {client.timeout:g}s",
                hint="shorten the analysis window or raise the Prometheus timeout; is Prometheus overloaded?",
                details=details,
            ) from exc
        except _http.HTTPError as exc:
            raise RemoteError(
                f"could not reach Prometheus at {self.shown_url} to run {asked}: {exc}",
                hint=f"check that Prometheus runs and listens at {self.shown_url} (goship reads its HTTP API)",
                details=details,
            ) from exc
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or doc.get("status") not in ("success", "error"):
            raise RemoteError(
                f"Prometheus at {self.shown_url} answered {asked} with HTTP {response.status_code} and no "
                f"API answer: {_short(response.text, _SHOWN_BODY) or '(empty body)'}",
                hint=_status_hint(response.status_code, self.shown_url),
                details=details,
            )
        warnings = tuple(str(w) for w in doc.get("warnings") or ())
        if doc["status"] == "error":
            kind, message = str(doc.get("errorType", "")), str(doc.get("error", ""))
            raise RemoteError(
                f"Prometheus at {self.shown_url} refused {asked}: {kind}: {_short(message, _SHOWN_BODY)}",
                hint=_ERROR_HINTS.get(kind) or _status_hint(response.status_code, self.shown_url),
                details=[*details, f"answer: HTTP {response.status_code} {kind}: {message}"],
            )
        return parse_result(promql, doc.get("data"), warnings)
