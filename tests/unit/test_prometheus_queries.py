"""The Prometheus metrics source without a Prometheus: PromQL templates rendered for versions and windows
(escaping, durations, every built-in), answers of Prometheus' HTTP API parsed and its failures turned into
RemoteErrors, and windows built from those answers (no data is 0 requests, never an error). The client
talks to a real HTTP server on loopback standing in for Prometheus, which answers what each test needs."""

from __future__ import annotations

import ast
import json
import math
import re
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goship._http import Client
from goship.errors import RemoteError, UsageError
from goship.rollout.ports import VersionMetrics
from goship.rollout.prometheus import (
    BUILTINS,
    GRPC_SERVER_ERROR_CODES,
    Matcher,
    PrometheusClient,
    PrometheusMetrics,
    QueryTemplate,
    custom,
    duration,
    nginx_canary_versions,
    quote,
)
from goship.rollout.prometheus.client import parse_result

# ----------------------------------------------------------------------------- a small PromQL reader


def strip_strings(promql: str) -> str:
    """``promql`` with every double-quoted string literal replaced by ``""``."""
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', promql)


def looks_like_promql(promql: str) -> None:
    """Balanced (), {} and [] outside strings, no placeholder left, string literals that Go would read."""
    bare = strip_strings(promql)
    stack: list[str] = []
    pairs = {")": "(", "}": "{", "]": "["}
    for ch in bare:
        if ch in "({[":
            stack.append(ch)
        elif ch in pairs:
            assert stack and stack.pop() == pairs[ch], f"unbalanced {ch!r} in {promql}"
    assert not stack, f"unclosed {stack} in {promql}"
    assert not re.search(r"\{(version|window|quantile)\}", bare), f"placeholder left in {promql}"
    assert '"' not in bare.replace('""', ""), f"stray quote in {promql}"


# ----------------------------------------------------------------------------- escaping and durations


@given(st.text())
def test_any_label_value_survives_quoting_as_a_go_string_literal(value: str) -> None:
    # PromQL unquotes double-quoted strings with Go's rules, which Python's agree with for these escapes.
    literal = quote(value)
    assert ast.literal_eval(literal) == value
    assert "\n" not in literal


def test_quotes_and_backslashes_in_a_version_are_escaped_in_its_selector() -> None:
    template = BUILTINS["goship-router"]
    assert template.selector('v1"} or vector(1) #') == r'version="v1\"} or vector(1) #"'
    assert template.selector("C:\\new\tline") == r'version="C:\\new\tline"'
    looks_like_promql(template.render("requests", 'v"1\\', 60))


def test_a_placeholder_inside_a_version_name_is_not_expanded_again() -> None:
    assert BUILTINS["goship-router"].render("requests", "{window}", 60) == (
        'sum(increase(goship_router_requests_total{version="{window}"}[60s]))'
    )


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(60, "60s"), (60.0, "60s"), (3600, "3600s"), (90.5, "90500ms"), (0.25, "250ms"), (0.0015, "2ms")],
)
def test_windows_become_prometheus_durations_to_the_millisecond(seconds: float, expected: str) -> None:
    assert duration(seconds) == expected


@pytest.mark.parametrize("seconds", [0, -5, 0.0004, math.nan, math.inf])
def test_a_window_under_a_millisecond_or_not_finite_is_refused(seconds: float) -> None:
    with pytest.raises(UsageError, match="at least 1 ms"):
        duration(seconds)


def test_matchers_refuse_label_names_prometheus_would_not_accept() -> None:
    with pytest.raises(UsageError, match="label name"):
        Matcher("destination-version", "v1")
    with pytest.raises(UsageError, match="operator"):
        Matcher("code", "5..", "~")  # type: ignore[arg-type]
    assert Matcher("code", "5..", "=~").promql() == 'code=~"5.."'


# ----------------------------------------------------------------------------- built-in templates


def built(name: str) -> QueryTemplate:
    template = BUILTINS[name].where(namespace="shop", service='api"x')
    if name == "nginx-ingress":
        template = template.with_versions(nginx_canary_versions(stable="v1", canary="v2"))
    return template


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_renders_promql_with_the_given_matchers_and_window(name: str) -> None:
    template = built(name)
    queries = [
        template.render("requests", "v2", 60),
        template.render("errors", "v2", 60),
        template.render("latency", "v2", 60, 0.99),
    ]
    for promql in queries:
        looks_like_promql(promql)
        assert 'namespace="shop"' in promql and r'service="api\"x"' in promql
        assert "[60s]" in promql
    requests, _, latency = queries
    assert requests.startswith("sum(increase(") and requests.endswith(f"{{{template.selector('v2')}}}[60s]))")
    assert latency.startswith("histogram_quantile(0.99, sum by (le) (rate(") and "_bucket{" in latency


@pytest.mark.parametrize(
    ("name", "requests", "errors", "latency"),
    [
        (
            "goship-router",
            'goship_router_requests_total{version="v2"}',
            'goship_router_failures_total{version="v2"}',
            'goship_router_request_duration_seconds_bucket{version="v2"}',
        ),
        (
            "client-golang",
            'http_requests_total{version="v2"}',
            'http_requests_total{version="v2",code=~"5.."}',
            'http_request_duration_seconds_bucket{version="v2"}',
        ),
        (
            "grpc",
            'grpc_server_handled_total{version="v2"}',
            'grpc_server_handled_total{version="v2",grpc_code=~"Unknown|DeadlineExceeded|Unimplemented|'
            'Internal|Unavailable|DataLoss"}',
            'grpc_server_handling_seconds_bucket{version="v2"}',
        ),
    ],
)
def test_builtins_count_with_increase_and_take_quantiles_over_bucket_rates(
    name: str, requests: str, errors: str, latency: str
) -> None:
    template = BUILTINS[name]
    assert template.render("requests", "v2", 30) == f"sum(increase({requests}[30s]))"
    assert template.render("errors", "v2", 30) == f"sum(increase({errors}[30s]))"
    assert template.render("latency", "v2", 30, 0.5) == (
        f"histogram_quantile(0.5, sum by (le) (rate({latency}[30s])))"
    )
    assert template.latency_unit_ms == 1000.0  # seconds


def test_grpc_errors_are_the_server_side_codes_not_every_code_but_ok() -> None:
    assert set(GRPC_SERVER_ERROR_CODES) == {
        "Unknown",
        "DeadlineExceeded",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
    }
    assert "NotFound" not in BUILTINS["grpc"].render("errors", "v2", 60)


def test_istio_counts_5xx_and_grpc_failures_answered_with_http_200_once_each() -> None:
    errors = BUILTINS["istio"].where(destination_workload_namespace="shop").render("errors", "v2", 60)
    selector = 'reporter="destination",destination_workload_namespace="shop",destination_version="v2"'
    assert errors == (
        f'(sum(increase(istio_requests_total{{{selector},response_code=~"5.."}}[60s])) or vector(0)) + '
        f'(sum(increase(istio_requests_total{{{selector},response_code!~"5..",'
        f'grpc_response_status=~"2|4|12|13|14|15"}}[60s])) or vector(0))'
    )
    latency = BUILTINS["istio"].render("latency", "v2", 60, 0.99)
    assert "istio_request_duration_milliseconds_bucket{" in latency
    assert BUILTINS["istio"].latency_unit_ms == 1.0


def test_istio_can_tell_versions_apart_by_workload_name() -> None:
    template = BUILTINS["istio"].versions_by("destination_workload", "api-{version}")
    assert template.selector("v1.2.0") == 'reporter="destination",destination_workload="api-v1.2.0"'


def test_nginx_ingress_tells_stable_from_canary_by_its_canary_label() -> None:
    template = BUILTINS["nginx-ingress"].where(namespace="shop", ingress="api")
    with pytest.raises(UsageError, match="cannot tell version 'v2' apart") as caught:
        template.render("requests", "v2", 60)
    assert caught.value.hint is not None and "nginx_canary_versions" in caught.value.hint
    by_role = template.with_versions(nginx_canary_versions(stable="v1", canary="v2"))
    assert by_role.selector("v1") == 'namespace="shop",ingress="api",canary=~"-?"'
    assert by_role.selector("v2") == 'namespace="shop",ingress="api",canary!~"-?"'
    named = template.with_versions(
        nginx_canary_versions(stable="v1", canary="v2", canary_upstream="shop-api-v2-80")
    )
    assert named.render("errors", "v2", 60) == (
        'sum(increase(nginx_ingress_controller_requests{namespace="shop",ingress="api",'
        'canary="shop-api-v2-80",status=~"5.."}[60s]))'
    )


# ----------------------------------------------------------------------------- custom templates


def test_custom_promql_takes_the_same_placeholders() -> None:
    template = custom(
        requests='sum(rate(app_hits_total{{version},route!="/healthz"}[{window}])) * 60',
        errors="sum(increase(app_failures_total{{version}}[{window}]))",
        latency="max(app_latency_ms{{version},quantile={quantile}})",
        matchers=[Matcher("cluster", "eu-1")],
    )
    assert template.render("requests", "v2", 120) == (
        'sum(rate(app_hits_total{cluster="eu-1",version="v2",route!="/healthz"}[120s])) * 60'
    )
    assert (
        template.render("latency", "v2", 120, 0.9)
        == 'max(app_latency_ms{cluster="eu-1",version="v2",quantile=0.9})'
    )
    assert template.latency_unit_ms == 1.0


def test_custom_latency_per_quantile_wins_over_the_quantile_form() -> None:
    template = custom(
        requests="sum(x{{version}})",
        errors="sum(y{{version}})",
        latency_by_quantile={0.99: "max(p99_seconds{{version}})"},
        latency_unit_ms=1000,
    )
    assert template.render("latency", "v1", 60, 0.99) == 'max(p99_seconds{version="v1"})'
    assert template.has_latency(0.99) and not template.has_latency(0.5)
    with pytest.raises(UsageError, match=r"no query for latency quantile 0\.5"):
        template.render("latency", "v1", 60, 0.5)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"requests": "sum(x{{version},ns={namespace}})"}, r"unknown placeholders \{namespace\}"),
        ({"requests": "sum(increase(x[{window}]))"}, r"no \{version\} placeholder"),
        ({"latency": "max(lat{{version}})"}, r"no \{quantile\} placeholder"),
        ({"latency_by_quantile": {99: "max(lat{{version}})"}}, "between 0 and 1"),
        ({"version_label": "app.kubernetes.io/version"}, "label name"),
        ({"version_value": "api-{window}"}, "no other placeholder"),
        ({"latency_unit_ms": 0}, "positive latency unit"),
    ],
)
def test_custom_templates_are_checked_when_made(fields: Mapping[str, Any], message: str) -> None:
    base: dict[str, Any] = {"requests": "sum(x{{version}})", "errors": "sum(y{{version}})"}
    with pytest.raises(UsageError, match=message):
        custom(**{**base, **fields})


# ----------------------------------------------------------------------------- the HTTP API client


@dataclass(frozen=True)
class Asked:
    """One request the stand-in Prometheus read."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]
    """Lower-case names."""


@dataclass(frozen=True)
class Answer:
    """What the stand-in Prometheus sends back."""

    status: int
    body: bytes
    content_type: str = "application/json"


class PrometheusHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StandInPrometheus

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        asked = Asked(
            parts.path,
            dict(parse_qsl(parts.query, keep_blank_values=True)),
            {name.lower(): value for name, value in self.headers.items()},
        )
        self.server.seen.append(asked)
        answer = self.server.answer(asked)
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)


class StandInPrometheus(ThreadingHTTPServer):
    """A loopback HTTP server in Prometheus' place: it records what it reads and answers through ``answer``
    (an empty vector unless a test says otherwise)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), PrometheusHandler)
        self.answer: Callable[[Asked], Answer] = lambda asked: vector()
        self.seen: list[Asked] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()


Api = Callable[..., PrometheusClient]
"""``api(answer, **options)``: a client of the stand-in Prometheus, which now answers through ``answer``."""


@pytest.fixture
def prometheus() -> Iterator[StandInPrometheus]:
    server = StandInPrometheus()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def api(prometheus: StandInPrometheus) -> Iterator[Api]:
    made: list[PrometheusClient] = []

    def make(answer: Callable[[Asked], Answer], **options: Any) -> PrometheusClient:
        prometheus.answer = answer
        made.append(PrometheusClient(prometheus.url, **options))
        return made[-1]

    yield make
    for client in made:
        client.close()


def success(result_type: str, result: Any) -> Answer:
    return Answer(
        200, json.dumps({"status": "success", "data": {"resultType": result_type, "result": result}}).encode()
    )


def vector(*values: float | str, labels: Mapping[str, str] | None = None) -> Answer:
    return success(
        "vector", [{"metric": dict(labels or {}), "value": [1700000000.5, str(v)]} for v in values]
    )


def test_instant_queries_send_the_query_time_timeout_and_credentials(
    api: Api, prometheus: StandInPrometheus
) -> None:
    client = api(
        lambda asked: vector(3), bearer_token="t0ken", headers={"X-Scope-OrgID": "shop"}, timeout_s=7.5
    )
    result = client.query('sum(up{job="x"})', at=1700000000.1234)
    (asked,) = prometheus.seen
    assert asked.path == "/api/v1/query"
    assert asked.params == {
        "query": 'sum(up{job="x"})',
        "timeout": "7500ms",
        "time": "1700000000.123",
    }
    assert asked.headers["authorization"] == "Bearer t0ken"
    assert asked.headers["x-scope-orgid"] == "shop"
    assert result.type == "vector" and result.samples[0].value == 3.0


def test_basic_auth_is_sent_and_a_password_in_the_url_is_never_shown(
    api: Api, prometheus: StandInPrometheus
) -> None:
    api(lambda asked: vector(1), basic_auth=("ada", "s3cret")).query("up")
    # A user and password in the URL go as basic auth too, and only there.
    with PrometheusClient(prometheus.url.replace("://", "://ada:s3cret@")) as client:
        client.query("up")
        assert client.url == client.shown_url == prometheus.url
    assert [a.headers["authorization"] for a in prometheus.seen] == ["Basic YWRhOnMzY3JldA=="] * 2
    shown = PrometheusClient("https://ada:s3cret@prom.example/prometheus/").shown_url
    assert shown == "https://prom.example/prometheus"


def test_range_queries_parse_into_series_of_points(api: Api, prometheus: StandInPrometheus) -> None:
    matrix = success("matrix", [{"metric": {"version": "v1"}, "values": [[100, "1"], [115, "NaN"]]}])
    result = api(lambda asked: matrix).query_range("x", start=100, end=130, step_s=15)
    (asked,) = prometheus.seen
    assert asked.path == "/api/v1/query_range"
    assert asked.params["step"] == "15s" and asked.params["start"] == "100.000"
    assert result.type == "matrix"
    assert result.series[0].labels == {"version": "v1"}
    assert result.series[0].points[0] == (100.0, 1.0) and math.isnan(result.series[0].points[1][1])


def test_scalars_are_one_sample_without_labels_and_infinities_are_numbers() -> None:
    result = parse_result("scalar(x)", {"resultType": "scalar", "result": [12.5, "+Inf"]})
    assert result.type == "scalar" and result.samples[0].labels == {} and result.samples[0].value == math.inf


def test_prometheus_error_json_becomes_a_remote_error_with_the_query_and_its_message(
    api: Api, prometheus: StandInPrometheus
) -> None:
    refusal = {
        "status": "error",
        "errorType": "bad_data",
        "error": "1:14: parse error: unclosed left bracket",
    }
    with pytest.raises(RemoteError) as caught:
        api(lambda asked: Answer(400, json.dumps(refusal).encode())).query("sum(rate(x[1m)")
    err = caught.value
    assert err.message == (
        f"Prometheus at {prometheus.url} refused `sum(rate(x[1m)`: bad_data: "
        "1:14: parse error: unclosed left bracket"
    )
    assert err.hint is not None and "query template" in err.hint
    assert err.details == [
        "query: sum(rate(x[1m)",
        "answer: HTTP 400 bad_data: 1:14: parse error: unclosed left bracket",
    ]
    assert err.exit_code == 4


@pytest.mark.parametrize(
    ("status", "body", "hint"),
    [
        (401, "Unauthorized\n", "credentials"),
        (404, "<html>404 page not found</html>", "without /api/v1"),
        (502, "", "a proxy in front of it failed"),
        (429, "slow down", "rate limiting"),
    ],
)
def test_answers_without_api_json_say_what_came_back_and_what_to_check(
    api: Api, status: int, body: str, hint: str
) -> None:
    with pytest.raises(RemoteError) as caught:
        api(lambda asked: Answer(status, body.encode(), "text/plain; charset=utf-8")).query("up")
    err = caught.value
    assert f"answered `up` with HTTP {status} and no API answer" in err.message
    assert (body.strip() or "(empty body)") in err.message
    assert err.hint is not None and hint in err.hint


def test_unreachable_and_slow_prometheus_are_remote_errors_with_hints() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        refusing = f"http://127.0.0.1:{taken.getsockname()[1]}"
    with (
        PrometheusClient(refusing) as client,
        pytest.raises(RemoteError, match=re.escape(f"could not reach Prometheus at {refusing}")) as caught,
    ):
        client.query("up")
    assert caught.value.hint is not None and f"listens at {refusing}" in caught.value.hint
    assert "Connection refused" in caught.value.message

    # It waits a little longer than it asks Prometheus to take (timeout_s), so Prometheus' own timeout
    # answer wins; here the client it is given waits 0.2 s whatever it is asked, to keep the test short.
    asked: list[float] = []

    def impatient(timeout: float) -> Client:
        asked.append(timeout)
        return Client(timeout=0.2, connect_timeout=0.2, env={})

    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts, never answers
        stalling = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with (
            PrometheusClient(stalling, timeout_s=2, http=impatient) as client,
            pytest.raises(RemoteError, match=re.escape("did not answer `up` within 0.2s")) as caught,
        ):
            client.query("up")
    assert asked == [7.0]
    assert caught.value.hint is not None and "window" in caught.value.hint


def test_garbled_data_is_a_remote_error_and_a_string_result_a_usage_error() -> None:
    with pytest.raises(RemoteError, match="cannot read"):
        parse_result("x", {"resultType": "vector", "result": [{"metric": {}}]})
    with pytest.raises(RemoteError, match="not a number"):
        parse_result("x", {"resultType": "scalar", "result": [1, "many"]})
    with pytest.raises(UsageError, match="got a 'string' result"):
        parse_result('"hi"', {"resultType": "string", "result": [1, "hi"]})


def test_client_settings_are_checked() -> None:
    for url in ("prom:9090", "http://prom:port"):
        with pytest.raises(UsageError, match="Prometheus URL"):
            PrometheusClient(url)
    assert PrometheusClient("http://u:p@[::1]:9090").shown_url == "http://[::1]:9090"
    with pytest.raises(UsageError, match="not both"):
        PrometheusClient("http://prom:9090", bearer_token="t", basic_auth=("a", "b"))


# ----------------------------------------------------------------------------- windows


def answering(api: Api, answers: Mapping[str, Answer]) -> PrometheusClient:
    """A client whose Prometheus answers each query by the first key found in it (empty vector otherwise)."""

    def answer(asked: Asked) -> Answer:
        for key, response in answers.items():
            if key in asked.params["query"]:
                return response
        return vector()

    return api(answer)


def test_a_window_rounds_counts_and_converts_seconds_to_milliseconds(
    api: Api, prometheus: StandInPrometheus
) -> None:
    client = answering(
        api,
        {
            'requests_total{version="v2"}': vector("200.0667"),
            'failures_total{version="v2"}': vector("9.6"),
            "histogram_quantile(0.5,": vector("0.075"),
            "histogram_quantile(0.99,": vector("0.0995"),
        },
    )
    window = PrometheusMetrics(client, BUILTINS["goship-router"], clock=lambda: 1700000000.0).window(
        ["v2"], 60
    )
    assert window["v2"].requests == 200 and window["v2"].errors == 10
    assert window["v2"].latency_ms == pytest.approx({0.5: 75.0, 0.99: 99.5})
    assert {a.params["time"] for a in prometheus.seen} == {"1700000000.000"}  # one moment for every query
    assert len(prometheus.seen) == 4


def test_no_series_or_nan_is_no_traffic_not_an_error(api: Api) -> None:
    # v1: series exist but served nothing in the window (quantiles NaN); v2: no series at all.
    client = answering(api, {'version="v1"': vector("0"), "histogram_quantile": vector("NaN")})
    window = PrometheusMetrics(client, BUILTINS["goship-router"]).window(["v1", "v2"], 60)
    assert window == {
        "v1": VersionMetrics(requests=0, errors=0, latency_ms={}),
        "v2": VersionMetrics(requests=0, errors=0, latency_ms={}),
    }


def test_errors_never_exceed_requests_after_rounding(api: Api) -> None:
    client = answering(api, {"requests_total": vector("1.4"), "failures_total": vector("1.6")})
    window = PrometheusMetrics(client, BUILTINS["goship-router"], quantiles=()).window(["v1"], 60)
    assert (window["v1"].requests, window["v1"].errors) == (1, 1)


def test_a_query_answering_several_series_asks_for_an_aggregate(api: Api) -> None:
    template = custom(requests="x_total{{version}}", errors="sum(y{{version}})")
    client = answering(api, {"x_total": vector(1, 2, labels={"pod": "a"})})
    with pytest.raises(UsageError, match="got 2 series") as caught:
        PrometheusMetrics(client, template).window(["v1"], 60)
    assert caught.value.hint is not None and "sum(" in caught.value.hint


def test_only_quantiles_the_template_can_answer_are_asked_for(
    api: Api, prometheus: StandInPrometheus
) -> None:
    template = custom(
        requests="sum(x{{version}})",
        errors="sum(y{{version}})",
        latency_by_quantile={0.99: "max(p99{{version}})"},
    )
    metrics = PrometheusMetrics(answering(api, {}), template, quantiles=(0.5, 0.99))
    assert [q.name for q in metrics.describe(["v1"], 60)] == ["requests", "errors", "latency_p99"]
    assert metrics.source == f"prometheus {prometheus.url} (custom)"


def test_describe_names_every_query_a_window_sends_in_order(api: Api, prometheus: StandInPrometheus) -> None:
    metrics = PrometheusMetrics(answering(api, {}), BUILTINS["client-golang"].where(namespace="shop"))
    described = metrics.describe(["v1", "v2"], 90)
    metrics.window(["v1", "v2"], 90)
    assert [q.query for q in described] == [a.params["query"] for a in prometheus.seen]
    assert [(q.version, q.name) for q in described][:4] == [
        ("v1", "requests"),
        ("v1", "errors"),
        ("v1", "latency_p50"),
        ("v1", "latency_p99"),
    ]
    assert {q.window_s for q in described} == {90}
    assert json.dumps([q.query for q in described])  # plain strings, ready for a JSON decision log
