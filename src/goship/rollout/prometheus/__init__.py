"""Prometheus as a canary's metrics source, over its HTTP API (instant and range queries).

- :mod:`.client` — ``PrometheusClient``: ``/api/v1/query`` and ``/api/v1/query_range``, results as values,
  failures as ``RemoteError`` with the query, the answer and a hint; bearer token, basic auth, extra headers.
- :mod:`.templates` — ``QueryTemplate``: PromQL with ``{version}``, ``{window}`` and ``{quantile}``; the
  built-ins ``goship-router``, ``istio``, ``nginx-ingress``, ``client-golang``, ``grpc`` and ``custom``.
- :mod:`.metrics` — ``PrometheusMetrics``: the ``MetricsSource`` port; ``describe()`` gives the PromQL a
  window sends, for the decision log.

Example::

    client = PrometheusClient("http://prometheus:9090", bearer_token=token)
    template = BUILTINS["istio"].where(destination_workload_namespace="shop", destination_service_name="api")
    metrics = PrometheusMetrics(client, template)
    metrics.window(["v1.4.0", "v1.5.0"], 60)
"""

from __future__ import annotations

from goship.rollout.prometheus.client import PrometheusClient, QueryResult, ResultType, Sample, Series
from goship.rollout.prometheus.metrics import MetricQuery, PrometheusMetrics
from goship.rollout.prometheus.templates import (
    BUILTINS,
    GRPC_SERVER_ERROR_CODES,
    Matcher,
    QueryTemplate,
    custom,
    duration,
    nginx_canary_versions,
    quote,
)

__all__ = [
    "BUILTINS",
    "GRPC_SERVER_ERROR_CODES",
    "Matcher",
    "MetricQuery",
    "PrometheusClient",
    "PrometheusMetrics",
    "QueryResult",
    "QueryTemplate",
    "ResultType",
    "Sample",
    "Series",
    "custom",
    "duration",
    "nginx_canary_versions",
    "quote",
]
