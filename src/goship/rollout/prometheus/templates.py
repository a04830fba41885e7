"""PromQL query templates: what to ask Prometheus for one version's requests, errors and latency quantiles
over a window, for the metric conventions goship knows (its own router, Istio, ingress-nginx, client_golang's
promhttp, go-grpc-prometheus) and for a person's own PromQL.

A template's PromQL has three placeholders, each replaced as a whole token so that PromQL's own braces stay
as they are:

- ``{version}`` — the label matchers that select one version plus the template's fixed matchers
  (namespace, service, ingress …), comma-separated and without braces, so a query writes
  ``metric{{version}}`` or ``metric{{version},code=~"5.."}``;
- ``{window}`` — the window as a Prometheus duration (``60s``, ``1500ms``);
- ``{quantile}`` — the quantile of a latency query (``0.99``).

Counts use ``increase(...[{window}])`` and quantiles ``histogram_quantile(q, sum by (le) (rate(..._bucket
[{window}])))``; every query aggregates to one number per version.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from goship.errors import UsageError

__all__ = [
    "BUILTINS",
    "GRPC_SERVER_ERROR_CODES",
    "ISTIO_GRPC_SERVER_ERROR_STATUSES",
    "Matcher",
    "Metric",
    "QueryTemplate",
    "custom",
    "duration",
    "nginx_canary_versions",
    "quote",
]

Metric = Literal["requests", "errors", "latency"]
MatchOp = Literal["=", "!=", "=~", "!~"]

PLACEHOLDERS = ("version", "window", "quantile")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_OPS = ("=", "!=", "=~", "!~")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(value: str) -> str:
    """``value`` as a PromQL double-quoted string literal (Go escapes, so any label value survives)."""
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def duration(seconds: float) -> str:
    """``seconds`` as a Prometheus duration, to the millisecond: ``60s``, ``1500ms``."""
    if not math.isfinite(seconds) or round(seconds * 1000) < 1:
        raise UsageError(f"expected a metrics window of at least 1 ms (got {seconds!r} seconds)")
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


@dataclass(frozen=True)
class Matcher:
    """One PromQL label matcher, ``label op "value"``."""

    label: str
    """A Prometheus label name."""
    value: str
    """The value (a RE2 regular expression for ``=~`` and ``!~``, matched whole); any text, escaped when
    rendered."""
    op: MatchOp = "="
    """``=``, ``!=``, ``=~`` or ``!~``."""

    def __post_init__(self) -> None:
        if not _LABEL_NAME.fullmatch(self.label):
            raise UsageError(
                f"expected a Prometheus label name like destination_version (got {self.label!r})"
            )
        if self.op not in _OPS:
            raise UsageError(f"expected a matcher operator {', '.join(_OPS)} (got {self.op!r})")

    def promql(self) -> str:
        return f"{self.label}{self.op}{quote(self.value)}"


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def _substitute(text: str, values: Mapping[str, str]) -> str:
    # One pass: a value that happens to contain "{window}" is not expanded again.
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


@dataclass(frozen=True)
class QueryTemplate:
    """PromQL for one metric convention; :meth:`render` fills it in for a version and a window."""

    name: str
    """Shown in the decision log: ``goship-router``, ``istio`` … or ``custom``."""
    requests: str
    """PromQL answering the requests a version served in the window."""
    errors: str
    """PromQL answering how many of those failed (server errors: 5xx, gRPC server-side codes)."""
    latency: str | None = None
    """PromQL answering a latency quantile, with ``{quantile}``; ``None``: no latency from this template."""
    latency_by_quantile: Mapping[float, str] = field(default_factory=dict)
    """PromQL for particular quantiles (a custom template may have no ``{quantile}`` form); wins over
    ``latency``."""
    latency_unit_ms: float = 1000.0
    """Milliseconds per unit of the latency queries' answers: 1000 for seconds, 1 for milliseconds."""
    version_label: str | None = "version"
    """The label telling versions apart; ``None`` when every version needs ``version_matchers``."""
    version_value: str = "{version}"
    """The ``version_label`` value of a version, ``{version}`` being its name (``api-{version}`` for
    workloads named after versions)."""
    version_matchers: Mapping[str, tuple[Matcher, ...]] = field(default_factory=dict)
    """Matchers for particular versions, instead of ``version_label`` (ingress-nginx's canary label)."""
    matchers: tuple[Matcher, ...] = ()
    """Matchers every query carries: namespace, service, ingress …"""

    def __post_init__(self) -> None:
        queries: dict[str, str] = {"requests": self.requests, "errors": self.errors}
        if self.latency is not None:
            queries["latency"] = self.latency
        for q, text in self.latency_by_quantile.items():
            if not 0.0 <= q <= 1.0:
                raise UsageError(f"expected latency quantiles between 0 and 1, like 0.99 (got {q!r})")
            queries[f"latency {q:g}"] = text
        for what, text in queries.items():
            unknown = sorted(_placeholders(text) - set(PLACEHOLDERS))
            if unknown:
                raise UsageError(
                    f"the {what} query of the {self.name} template has unknown placeholders "
                    f"{', '.join('{' + u + '}' for u in unknown)} (expected {{version}}, {{window}} or "
                    "{quantile})",
                    hint="fixed labels such as a namespace go into the template's matchers, not placeholders",
                )
            if "version" not in _placeholders(text):
                raise UsageError(
                    f"the {what} query of the {self.name} template has no {{version}} placeholder, so it "
                    f"would answer the same for every version: {text}",
                    hint="put {version} inside the selector's braces, like "
                    "sum(increase(http_requests_total{{version}}[{window}]))",
                )
        if self.latency is not None and "quantile" not in _placeholders(self.latency):
            raise UsageError(
                f"the latency query of the {self.name} template has no {{quantile}} placeholder: {self.latency}",
                hint="give a query per quantile (latency_by_quantile) if it cannot take {quantile}",
            )
        if _placeholders(self.version_value) - {"version"}:
            raise UsageError(
                f"expected a version value like api-{{version}}, with no other placeholder "
                f"(got {self.version_value!r})"
            )
        if self.version_label is not None and not _LABEL_NAME.fullmatch(self.version_label):
            raise UsageError(
                f"expected a Prometheus label name as the version label (got {self.version_label!r})"
            )
        if not math.isfinite(self.latency_unit_ms) or self.latency_unit_ms <= 0:
            raise UsageError(f"expected a positive latency unit in ms (got {self.latency_unit_ms!r})")

    # -- building ---------------------------------------------------------------------------------

    def where(self, *matchers: Matcher, **labels: str) -> QueryTemplate:
        """The template with more fixed matchers: ``where(destination_workload_namespace="shop")``."""
        extra = (*matchers, *(Matcher(k, v) for k, v in labels.items()))
        return dataclasses.replace(self, matchers=(*self.matchers, *extra))

    def versions_by(self, label: str, value: str = "{version}") -> QueryTemplate:
        """The template telling versions apart by ``label``, whose value for a version is ``value``."""
        return dataclasses.replace(self, version_label=label, version_value=value)

    def with_versions(self, matchers: Mapping[str, Sequence[Matcher]]) -> QueryTemplate:
        """The template with explicit matchers for some versions (see :func:`nginx_canary_versions`)."""
        merged = {**self.version_matchers, **{v: tuple(ms) for v, ms in matchers.items()}}
        return dataclasses.replace(self, version_matchers=merged)

    # -- rendering --------------------------------------------------------------------------------

    def selector(self, version: str) -> str:
        """What ``{version}`` becomes for ``version``: comma-separated matchers without braces."""
        own = self.version_matchers.get(version)
        if own is None:
            if self.version_label is None:
                known = ", ".join(sorted(self.version_matchers)) or "none"
                raise UsageError(
                    f"the {self.name} template cannot tell version {version!r} apart (it knows {known})",
                    hint="give the template matchers for every version analysed (for ingress-nginx: "
                    "nginx_canary_versions(stable=..., canary=...))",
                )
            own = (Matcher(self.version_label, _substitute(self.version_value, {"version": version})),)
        return ",".join(m.promql() for m in (*self.matchers, *own))

    def has_latency(self, q: float) -> bool:
        """Whether this template can ask for quantile ``q``."""
        return q in self.latency_by_quantile or self.latency is not None

    def render(self, metric: Metric, version: str, window_s: float, quantile: float | None = None) -> str:
        """The PromQL sent for ``metric`` of ``version`` over the last ``window_s`` seconds."""
        if metric == "latency":
            if quantile is None or not 0.0 <= quantile <= 1.0:
                raise UsageError(f"expected a latency quantile between 0 and 1 (got {quantile!r})")
            text = self.latency_by_quantile.get(quantile, self.latency)
            if text is None:
                raise UsageError(f"the {self.name} template has no query for latency quantile {quantile:g}")
        else:
            text = self.requests if metric == "requests" else self.errors
        values = {"version": self.selector(version), "window": duration(window_s)}
        if quantile is not None:
            values["quantile"] = f"{quantile:g}"
        return _substitute(text, values)


def custom(
    *,
    requests: str,
    errors: str,
    latency: str | None = None,
    latency_by_quantile: Mapping[float, str] | None = None,
    latency_unit_ms: float = 1.0,
    version_label: str = "version",
    version_value: str = "{version}",
    matchers: Sequence[Matcher] = (),
) -> QueryTemplate:
    """A template of a person's own PromQL, with the same placeholders as the built-ins; latency answers are
    taken as milliseconds unless ``latency_unit_ms`` says otherwise (1000 for seconds)."""
    return QueryTemplate(
        name="custom",
        requests=requests,
        errors=errors,
        latency=latency,
        latency_by_quantile=dict(latency_by_quantile or {}),
        latency_unit_ms=latency_unit_ms,
        version_label=version_label,
        version_value=version_value,
        matchers=tuple(matchers),
    )


def _increase(metric: str, extra: str = "") -> str:
    selector = "{{version}" + (f",{extra}" if extra else "") + "}"
    return f"sum(increase({metric}{selector}[{{window}}]))"


def _quantile(bucket: str) -> str:
    return "histogram_quantile({quantile}, sum by (le) (rate(" + bucket + "{{version}}[{window}])))"


# gRPC codes counted as the server's failures: those grpc-gateway's runtime.HTTPStatusFromCode maps to 5xx
# (Unknown, Internal, DataLoss → 500, Unimplemented → 501, Unavailable → 503, DeadlineExceeded → 504), the
# same set pyrra (ui/src/components/graphs/RequestsGraph.tsx) paints as errors. The other non-OK codes
# (InvalidArgument, NotFound, PermissionDenied, ResourceExhausted, Canceled …) are the caller's doing, like
# 4xx: counting them as errors (grpc_code!="OK") would blame a canary for its clients. etcd's mixin also
# alerts on FailedPrecondition and ResourceExhausted; goship leaves those to custom queries.
GRPC_SERVER_ERROR_CODES = (
    "Unknown",
    "DeadlineExceeded",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
)
"""``grpc_code`` values (go-grpc-prometheus, go-grpc-middleware) counted as errors."""
ISTIO_GRPC_SERVER_ERROR_STATUSES = ("2", "4", "12", "13", "14", "15")
"""The same codes as Istio's numeric ``grpc_response_status`` label spells them."""

_ISTIO_5XX = _increase("istio_requests_total", 'response_code=~"5.."')
_ISTIO_GRPC_ERRORS = _increase(
    "istio_requests_total",
    f'response_code!~"5..",grpc_response_status=~"{"|".join(ISTIO_GRPC_SERVER_ERROR_STATUSES)}"',
)

BUILTINS: Mapping[str, QueryTemplate] = {
    # goship's router (routerd/stats.go): answers by version and code; failures_total counts 5xx answers,
    # answers cut short and failed attempts a retry hid, the same figure as /stats' "failures".
    "goship-router": QueryTemplate(
        name="goship-router",
        requests=_increase("goship_router_requests_total"),
        errors=_increase("goship_router_failures_total"),
        latency=_quantile("goship_router_request_duration_seconds_bucket"),
        version_label="version",
    ),
    # Istio standard metrics, server side (reporter="destination"), by the pod's version label; gRPC
    # failures are answered with HTTP 200 and a grpc-status trailer, so they are counted from
    # grpc_response_status (numeric) among the non-5xx requests. Each term falls back to 0 so that a
    # version without 5xx series still gets its gRPC errors added.
    "istio": QueryTemplate(
        name="istio",
        requests=_increase("istio_requests_total"),
        errors=f"({_ISTIO_5XX} or vector(0)) + ({_ISTIO_GRPC_ERRORS} or vector(0))",
        latency=_quantile("istio_request_duration_milliseconds_bucket"),
        latency_unit_ms=1.0,
        version_label="destination_version",
        matchers=(Matcher("reporter", "destination"),),
    ),
    # ingress-nginx (internal/ingress/metric/collectors/socket.go): nginx_ingress_controller_requests and
    # the *_request_duration_seconds histogram carry status, method, path, namespace, ingress, service and
    # canary. namespace/ingress/service come from the location, i.e. the main Ingress, for stable and canary
    # requests alike; "canary" is $proxy_alternative_upstream_name (rootfs/etc/nginx/lua/monitor.lua), which
    # balancer.lua sets to the canary backend's upstream ("<namespace>-<service>-<port>") only when it routed
    # the request there. So versions are told apart by "canary" (see nginx_canary_versions). status is the
    # code, or "5xx" with --report-status-classes; 5.. matches both.
    "nginx-ingress": QueryTemplate(
        name="nginx-ingress",
        requests=_increase("nginx_ingress_controller_requests"),
        errors=_increase("nginx_ingress_controller_requests", 'status=~"5.."'),
        latency=_quantile("nginx_ingress_controller_request_duration_seconds_bucket"),
        version_label=None,
    ),
    # client_golang's promhttp middleware conventions: InstrumentHandlerCounter on http_requests_total{code}
    # and InstrumentHandlerDuration on http_request_duration_seconds. The version label is whatever the
    # scrape config copies from the pod ("version" unless set with versions_by).
    "client-golang": QueryTemplate(
        name="client-golang",
        requests=_increase("http_requests_total"),
        errors=_increase("http_requests_total", 'code=~"5.."'),
        latency=_quantile("http_request_duration_seconds_bucket"),
    ),
    # go-grpc-prometheus / go-grpc-middleware's server metrics; latency needs the handling-time histogram
    # turned on (EnableHandlingTimeHistogram / WithServerHandlingTimeHistogram).
    "grpc": QueryTemplate(
        name="grpc",
        requests=_increase("grpc_server_handled_total"),
        errors=_increase("grpc_server_handled_total", f'grpc_code=~"{"|".join(GRPC_SERVER_ERROR_CODES)}"'),
        latency=_quantile("grpc_server_handling_seconds_bucket"),
    ),
}
"""The built-in templates by name; add fixed matchers with :meth:`QueryTemplate.where`."""


def nginx_canary_versions(
    *, stable: str, canary: str, canary_upstream: str | None = None
) -> dict[str, tuple[Matcher, ...]]:
    """Matchers telling ingress-nginx's stable and canary traffic apart, for
    ``BUILTINS["nginx-ingress"].with_versions(...)``: the canary's requests carry its upstream name in the
    ``canary`` label (``canary_upstream`` when given, any otherwise), the stable ones an empty one (``-``
    when the variable was never set)."""
    return {
        stable: (Matcher("canary", "-?", "=~"),),
        canary: (Matcher("canary", canary_upstream) if canary_upstream else Matcher("canary", "-?", "!~"),),
    }
