"""goship.yaml: the settings of the optional config file at the repository root, and its loader.

The settings are frozen dataclasses with defaults; pydantic validates them at the boundary, and only
when there is a file to validate, so a repository without goship.yaml does not pay for it. A file
with problems is refused with every problem listed at once, each at its ``file:line:col``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from goship import semver
from goship.errors import ConfigError

if TYPE_CHECKING:
    import yaml
    from pydantic import TypeAdapter

CONFIG_FILE = "goship.yaml"

Bump = Literal["major", "minor", "patch", "none"]
# Read by pydantic when it validates these dataclasses (a plain dict: no pydantic import needed here).
_STRICT = {"extra": "forbid", "use_attribute_docstrings": True}


class _Check:
    """A field check pydantic runs after the type check (``Annotated[str, _Check(fn)]``), so that
    every problem of a file is found in one pass; pydantic is imported only when it validates.
    (:mod:`goship._plain` runs ``check`` too, on files it can take without pydantic.)"""

    def __init__(self, check: Callable[[Any], Any]) -> None:
        self.check = check

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self.check, handler(source))


def _release_version(value: str) -> str:
    if semver.canonical(value) != value or semver.prerelease(value):
        raise ValueError(f"expected a version like v0.1.0 or v1.0.0 (found {value!r})")
    return value


def _sha_template(value: str | None) -> str | None:
    if value is not None and "{sha}" not in value:
        raise ValueError(f"expected a URL template containing {{sha}} (found {value!r})")
    return value


def _go_release(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"1\.[0-9]+(\.[0-9]+)?", value):
        raise ValueError(f"expected a Go release such as 1.22 or 1.22.3 (found {value!r})")
    return value


def _lowercase_keys(value: dict[str, Bump]) -> dict[str, Bump]:
    return {k.lower(): v for k, v in value.items()}


_DURATION_TEXT = r"([0-9]+(\.[0-9]*)?|\.[0-9]+) *(ms|s|m|h)?"
_DURATION = re.compile(_DURATION_TEXT)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_seconds(value: object) -> float:
    """A duration in seconds, from a number of seconds or a string such as ``30s``, ``1.5s``, ``500ms``,
    ``2m`` or ``1h``; a ValueError saying what was expected otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, 500ms or 2m (found {value!r})")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.fullmatch(value.strip())):
        seconds = float(m[1]) * _UNIT_SECONDS[m[3]]
    else:
        raise ValueError(f"expected a duration such as 30s, 500ms or 2m (found {value!r})")
    if not 0 < seconds <= 7 * 24 * 3600:
        raise ValueError(f"expected a duration above 0 and at most a week (found {value!r})")
    return seconds


class _Seconds:
    """A duration field: seconds, written as a number or as ``30s``, ``500ms``, ``2m``, ``1h``."""

    parse = staticmethod(parse_seconds)  # for goship._plain, as pydantic's "before" validator below

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_before_validator_function(
            parse_seconds,
            handler(source),
            json_schema_input_schema=core_schema.union_schema(
                [core_schema.float_schema(), core_schema.str_schema(pattern=f"^ *{_DURATION_TEXT} *$")]
            ),
        )


def _steps(value: list[int] | None) -> list[int] | None:
    if value is not None and (
        not value or any(not 0 < w <= 100 for w in value) or value != sorted(set(value))
    ):
        raise ValueError(
            f"expected canary percents ascending between 1 and 100, like [5, 25, 50] (found {value})"
        )
    return value


def _percent(value: int) -> int:
    if not 0 <= value <= 100:
        raise ValueError(f"expected a percent from 0 to 100 (found {value})")
    return value


def _at_least_one(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise ValueError(f"expected 1 or more (found {value})")
    return value


@dataclass(frozen=True)
class VersioningConfig:
    """How conventional commits turn into the next version."""

    __pydantic_config__ = _STRICT

    bump_types: Annotated[dict[str, Bump], _Check(_lowercase_keys)] = field(
        default_factory=lambda: {"feat": "minor", "fix": "patch", "perf": "patch", "revert": "patch"}
    )
    """Conventional-commit type → the bump it causes; unlisted types cause none. A breaking change
    ('!' or a BREAKING CHANGE footer) always bumps major."""
    breaking_before_v1: Literal["minor", "major"] = "minor"
    """What a breaking change bumps while the module is below v1.0.0 (Go: v0 promises nothing)."""
    initial_version: Annotated[str, _Check(_release_version)] = "v0.1.0"
    """The first release of a module without release tags (a /vN module starts at vN.0.0)."""


@dataclass(frozen=True)
class ChangelogConfig:
    """How release notes are written."""

    __pydantic_config__ = _STRICT

    commit_url: Annotated[str | None, _Check(_sha_template)] = None
    """Link for a commit, with {sha} in it; by default derived from the remote for GitHub, GitLab,
    Bitbucket, Gitea and similar hosts."""
    bots: list[str] = field(
        default_factory=lambda: ["dependabot[bot]", "renovate[bot]", "dependabot-preview[bot]"]
    )
    """Authors whose dependency bumps are folded into one Dependencies line."""
    hidden_types: list[str] = field(default_factory=lambda: ["chore", "docs", "style", "test", "ci", "build"])
    """Conventional-commit types left out of release notes (unless breaking)."""


@dataclass(frozen=True)
class TagsConfig:
    """How release tags are made and shared."""

    __pydantic_config__ = _STRICT

    remote: str = "origin"
    """The remote 'goship tag --push' pushes to (and release-note links are derived from)."""
    sign: bool = False
    """Sign every tag (as 'goship tag --sign'), with git's signing config."""


@dataclass(frozen=True)
class ModulesConfig:
    """Which Go modules of the repository goship releases."""

    __pydantic_config__ = _STRICT

    exclude: list[str] = field(default_factory=list)
    """Module directories (relative to the repository root) goship leaves alone."""


Level = Literal["error", "warn", "off"]
Action = Literal["allow", "review", "block"]


@dataclass(frozen=True)
class RuleConfig:
    """One rule of 'goship deps check'."""

    __pydantic_config__ = _STRICT

    level: Level = "error"
    """error fails the check (exit 1), warn only reports, off skips the rule."""
    allow: list[str] = field(default_factory=list)
    """Module paths (shell patterns such as example.com/internal/*) the rule leaves alone."""


def _warn() -> RuleConfig:
    return RuleConfig(level="warn")


@dataclass(frozen=True)
class DepsRulesConfig:
    """The rules of 'goship deps check', each error / warn / off with an allowlist."""

    __pydantic_config__ = _STRICT

    tidy: RuleConfig = field(default_factory=RuleConfig)
    """'go mod tidy -diff' is clean."""
    verify: RuleConfig = field(default_factory=RuleConfig)
    """'go mod verify' passes: the module cache matches go.sum."""
    sum_complete: RuleConfig = field(default_factory=RuleConfig)
    """Every module the build needs has its go.sum lines."""
    local_replace: RuleConfig = field(default_factory=RuleConfig)
    """No replace to a local directory in a released module's go.mod (go.work is the place for that)."""
    pinned: RuleConfig = field(default_factory=RuleConfig)
    """No pseudo-version requirements (allowlist the modules that have no releases)."""
    exclude: RuleConfig = field(default_factory=_warn)
    """exclude directives, which silently change what the build selects."""
    vendor: RuleConfig = field(default_factory=RuleConfig)
    """vendor/modules.txt agrees with go.mod, module by module (when vendor/ exists)."""
    go_version: RuleConfig = field(default_factory=RuleConfig)
    """The go directive is at least deps.min_go (when set)."""
    toolchain: RuleConfig = field(default_factory=RuleConfig)
    """A toolchain directive pins the Go release (when deps.require_toolchain is true)."""
    frozen: RuleConfig = field(default_factory=RuleConfig)
    """With --frozen: building did not change go.mod or go.sum."""


@dataclass(frozen=True)
class DiffPolicyConfig:
    """What 'goship deps diff' lets through: allow, review (reported, exit 0) or block (exit 1)."""

    __pydantic_config__ = _STRICT

    patch: Action = "allow"
    """An upgrade within the same minor version."""
    minor: Action = "review"
    """An upgrade to a newer minor version."""
    major: Action = "block"
    """An upgrade to a new major version (a /vN path change counts)."""
    added: Action = "review"
    """A new requirement."""
    removed: Action = "allow"
    """A requirement that is gone."""
    downgrade: Action = "review"
    """A requirement moved to a lower version."""
    allow: list[str] = field(default_factory=list)
    """Module paths (shell patterns) whose changes are always allowed, majors included."""
    judge_indirect: bool = False
    """Judge indirect requirements by this policy too (by default they are listed and allowed:
    they follow from the direct ones)."""


@dataclass(frozen=True)
class DepsConfig:
    """Dependency gates: 'goship deps check' and 'goship deps diff'."""

    __pydantic_config__ = _STRICT

    rules: DepsRulesConfig = field(default_factory=DepsRulesConfig)
    """The rules of 'goship deps check'."""
    min_go: Annotated[str | None, _Check(_go_release)] = None
    """The lowest go directive a module may declare, e.g. "1.22" (none: not checked)."""
    require_toolchain: bool = False
    """Every module's go.mod must pin a toolchain directive."""
    frozen_command: str = "go build ./..."
    """The go command 'goship deps check --frozen' runs before comparing go.mod and go.sum."""
    diff: DiffPolicyConfig = field(default_factory=DiffPolicyConfig)
    """The policy of 'goship deps diff'."""


@dataclass(frozen=True)
class LdflagsConfig:
    """The Go variables 'goship build' sets with -X (empty: not set)."""

    __pydantic_config__ = _STRICT

    version: str = "main.version"
    """Receives the version (v1.3.0, or a pseudo-version for an untagged commit)."""
    commit: str = "main.commit"
    """Receives the full commit hash."""
    date: str = "main.date"
    """Receives the commit's time (RFC 3339, UTC): the same for every build of a commit."""


@dataclass(frozen=True)
class ServiceConfig:
    """One Go service: a main package built into an image."""

    __pydantic_config__ = _STRICT

    name: str
    """The service's name: the binary's name and the image's last path element by default."""
    main: str = "."
    """The main package, relative to the module directory (e.g. ./cmd/orders)."""
    module: str = "."
    """The Go module directory, relative to the repository root."""
    image: str | None = None
    """Where it is published, e.g. registry.example.com/team/orders (default: images.registry/NAME)."""
    platforms: list[str] = field(default_factory=lambda: ["linux/amd64"])
    """Platforms built into the image index, e.g. linux/amd64 and linux/arm64."""
    base: str = "static"
    """'static' (goship's minimal base: nonroot user, CA certificates, /tmp), 'scratch', or an image
    pulled by digest (registry/repo@sha256:…)."""
    static_dir: str | None = None
    """A directory (relative to the module) shipped in its own layer under /app/data."""
    env: dict[str, str] = field(default_factory=dict)
    """Environment of the container."""
    user: str = "65532:65532"
    """The user the entrypoint runs as (nonroot by default)."""
    workdir: str = "/"
    """The working directory of the entrypoint."""
    ports: list[int] = field(default_factory=list)
    """Ports the service listens on (recorded as ExposedPorts)."""
    ldflags: LdflagsConfig = field(default_factory=LdflagsConfig)
    """The variables that receive the version, commit and build date."""


@dataclass(frozen=True)
class ImageTagsConfig:
    """How image tags are spelled: format strings over {version} (v1.2.3), {semver} (1.2.3), {major},
    {minor}, {patch}, {prerelease} and {commit12}; an empty string turns that tag off."""

    __pydantic_config__ = _STRICT

    exact: str = "{version}"
    """The release's own tag; it never moves."""
    minor: str = "v{major}.{minor}"
    """Follows the newest patch of a minor version."""
    major: str = "v{major}"
    """Follows the newest release of a major version."""
    latest: str = "latest"
    """Follows the newest release (never a prerelease)."""
    channel: str = ""
    """A tag for prereleases, e.g. 'next' (off by default)."""
    dev: str = "sha-{commit12}"
    """The only tag of a build of an untagged commit."""


@dataclass(frozen=True)
class ImagesConfig:
    """Images: how 'goship build' and 'goship publish' name, store and tag them."""

    __pydantic_config__ = _STRICT

    registry: str | None = None
    """The default registry and namespace for services without 'image', e.g. registry.example.com/team."""
    store: str | None = None
    """goship's local OCI image layout (default: ~/.cache/goship/store)."""
    tags: ImageTagsConfig = field(default_factory=ImageTagsConfig)
    """The exact and rolling tags."""


@dataclass(frozen=True)
class CanaryMatchConfig:
    """Requests that match go to the canary while it is analysed, whatever the weights (A/B testing)."""

    __pydantic_config__ = _STRICT

    header: str | None = None
    """The request header to look at, e.g. X-Beta (give header or cookie)."""
    cookie: str | None = None
    """The cookie to look at, e.g. beta (give header or cookie)."""
    kind: Literal["exact", "prefix", "regex"] = "exact"
    """How the value is compared: exact, prefix, or regex (the whole value must match)."""
    value: str = ""
    """The value, prefix or regular expression."""

    def __post_init__(self) -> None:
        if (self.header is None) == (self.cookie is None):
            raise ValueError("expected exactly one of header or cookie in a canary match")


HookType = Literal[
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-traffic-increase",
    "confirm-promotion",
    "post-rollout",
    "rollback",
]


@dataclass(frozen=True)
class CanaryWebhookConfig:
    """An HTTP hook of the canary, with Flagger's kinds: a 2xx answer is yes, anything else no."""

    __pydantic_config__ = _STRICT

    name: str
    """A name for the decision log."""
    type: HookType
    """confirm-rollout, pre-rollout, rollout, confirm-traffic-increase, confirm-promotion, post-rollout
    or rollback (a yes from a rollback hook rolls the canary back)."""
    url: str
    """Where the JSON document is POSTed."""
    timeout: Annotated[float, _Seconds()] = 10.0
    """How long an answer may take; no answer in time is a no."""
    metadata: dict[str, str] = field(default_factory=dict)
    """Passed to the hook as they are (e.g. {cmd: "hey -z 1m http://orders"})."""


@dataclass(frozen=True)
class CanaryMetricsConfig:
    """Where a canary on Kubernetes gets its numbers: a Prometheus and the metric conventions it holds."""

    __pydantic_config__ = _STRICT

    prometheus: str | None = None
    """The Prometheus base URL, e.g. http://prometheus.monitoring:9090 (required for --target kubernetes)."""
    template: Literal["istio", "nginx-ingress", "client-golang", "grpc", "goship-router"] = "client-golang"
    """The metric conventions: istio, nginx-ingress, client-golang (promhttp), grpc or goship-router."""
    version_label: str | None = None
    """The Prometheus label that carries the version (default: the template's, e.g. destination_version)."""
    labels: dict[str, str] = field(default_factory=dict)
    """Fixed label matchers added to every query, e.g. {namespace: shop, job: orders}."""
    bearer_token_env: str | None = None
    """An environment variable holding a bearer token for Prometheus (never put the token here)."""


@dataclass(frozen=True)
class CanaryConfig:
    """Canary releases ('goship canary start'): traffic shifts to a new version step by step, each step
    judged against the stable version; a healthy canary is promoted, a bad one rolled back; webhooks
    gate and hear each stage."""

    __pydantic_config__ = _STRICT

    steps: Annotated[list[int] | None, _Check(_steps)] = None
    """Canary traffic percent per step, ascending; promotion to 100 % follows the last step
    (default [5, 25, 50], unless step_weight is set)."""
    step_weight: Annotated[int | None, _Check(_at_least_one)] = None
    """Percent added per step up to max_weight (Flagger's stepWeight), instead of steps."""
    max_weight: Annotated[int, _Check(_percent)] = 50
    """With step_weight: the highest percent before promotion (Flagger's maxWeight)."""
    interval: Annotated[float, _Seconds()] = 60.0
    """Analysis interval: each step is judged on windows this long, e.g. 30s or 1m."""
    min_requests: Annotated[int, _Check(_at_least_one)] = 50
    """A window in which the canary served fewer requests is 'wait' (no verdict), not judged."""
    failure_threshold: Annotated[int, _Check(_at_least_one)] = 5
    """Consecutive failed analyses before the canary is rolled back."""
    step_deadline: Annotated[float, _Seconds()] = 600.0
    """How long a step may go without a verdict; after it every 'wait' counts as a failure (no data)."""
    judge: Literal["sequential", "threshold", "mann-whitney"] = "sequential"
    """Who judges each analysis: sequential (anytime-valid tests of error rate and latency), threshold
    (Flagger-style bounds) or mann-whitney (Kayenta-style tests)."""
    judge_settings: dict[str, Any] = field(default_factory=dict)
    """The judge's settings, e.g. {alpha: 0.01, min_requests_to_pass: 1000} for sequential."""
    matches: list[CanaryMatchConfig] = field(default_factory=list)
    """Requests sent to the canary whatever the weights (by header or cookie), while it is analysed."""
    sticky_header: str | None = None
    """Split by a hash of this header (a user id) instead of at random, so each user stays on one version."""
    mirror_percent: Annotated[int, _Check(_percent)] = 0
    """Copy this percent of requests to the canary too while it is analysed (its answers are dropped)."""
    confirm_promotion: bool = False
    """After the last step, wait for 'goship canary promote' instead of promoting by itself."""
    canary_replicas: Annotated[int | None, _Check(_at_least_one)] = None
    """Replicas of the canary while it is analysed (default: as many as the service runs)."""
    webhooks: list[CanaryWebhookConfig] = field(default_factory=list)
    """HTTP hooks that gate or hear the canary's stages, as Flagger's webhooks do."""
    metrics: CanaryMetricsConfig = field(default_factory=CanaryMetricsConfig)
    """On Kubernetes: the Prometheus the canary is judged from (the local runtime uses its router's own)."""

    def __post_init__(self) -> None:
        if self.steps is not None and self.step_weight is not None:
            raise ValueError("expected steps or step_weight, not both")
        if not self.judge_settings:
            return  # every judge runs on its defaults; nothing to import (every command makes one of these)
        from goship.rollout.judges import JUDGES

        judge = JUDGES[self.judge]
        known = [f.name for f in dataclasses.fields(judge)] if isinstance(judge, type) else []
        unknown = sorted(set(self.judge_settings) - set(known))
        if known and unknown:
            raise ValueError(
                f"judge_settings: the {self.judge} judge has no setting {', '.join(map(repr, unknown))} "
                f"(its settings: {', '.join(known)})"
            )
        try:
            judge(**self.judge_settings)
        except (TypeError, ConfigError) as exc:
            why = exc.message if isinstance(exc, ConfigError) else str(exc)
            raise ValueError(f"judge_settings of the {self.judge} judge: {why}") from exc

    def weights(self) -> list[int]:
        """The canary percent of every step."""
        if self.step_weight is not None:
            return list(range(self.step_weight, self.max_weight + 1, self.step_weight))
        return list(self.steps) if self.steps is not None else [5, 25, 50]


_QUANTITY = re.compile(r"([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei|[eE][0-9]+)?")
_INT_OR_PERCENT = re.compile(r"(0|[1-9][0-9]*)%?")


def _quantities(value: dict[str, str]) -> dict[str, str]:
    for name, quantity in value.items():
        if not _QUANTITY.fullmatch(quantity):
            raise ValueError(
                f"{name}: expected a Kubernetes quantity such as 100m, 0.5, 128Mi or 1Gi (found {quantity!r})"
            )
    return value


def _int_or_percent(value: int | str | None) -> int | str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise ValueError(f"expected 0 or more (found {value})")
    if isinstance(value, str) and not _INT_OR_PERCENT.fullmatch(value.strip()):
        raise ValueError(f"expected a number of pods or a percentage such as 25% (found {value!r})")
    return value


def _non_negative(value: int) -> int:
    if value < 0:
        raise ValueError(f"expected 0 or more (found {value})")
    return value


def _port(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 65535:
        raise ValueError(f"expected a port from 1 to 65535 (found {value})")
    return value


@dataclass(frozen=True)
class KubeProbeConfig:
    """One HTTP probe of the service's container (httpGet on the container's port)."""

    __pydantic_config__ = _STRICT

    path: str = "/readyz"
    """The HTTP path probed."""
    period: Annotated[float, _Seconds()] = 5.0
    """How often it is probed (periodSeconds; whole seconds, rounded up)."""
    timeout: Annotated[float, _Seconds()] = 1.0
    """How long one probe may take (timeoutSeconds)."""
    failure_threshold: Annotated[int, _Check(_at_least_one)] = 3
    """Consecutive failures before the probe counts as failed (failureThreshold)."""
    enabled: bool = True
    """false leaves this probe out of the manifest."""


def _liveness() -> KubeProbeConfig:
    return KubeProbeConfig(path="/healthz", period=10.0)


def _startup() -> KubeProbeConfig:
    return KubeProbeConfig(path="/healthz", period=2.0, failure_threshold=30)


@dataclass(frozen=True)
class KubeProbesConfig:
    """The container's probes: readiness gates traffic, liveness restarts a hung process, startup holds
    liveness off while the process starts."""

    __pydantic_config__ = _STRICT

    readiness: KubeProbeConfig = field(default_factory=KubeProbeConfig)
    """Ready for traffic: GET /readyz every 5 s, 3 failures take the pod out of the Service."""
    liveness: KubeProbeConfig = field(default_factory=_liveness)
    """Alive: GET /healthz every 10 s, 3 failures restart the container."""
    startup: KubeProbeConfig = field(default_factory=_startup)
    """Started: GET /healthz every 2 s, up to 30 times (a minute to start) before liveness takes over."""


@dataclass(frozen=True)
class KubeResourcesConfig:
    """The container's resource requests and limits (Kubernetes quantities)."""

    __pydantic_config__ = _STRICT

    requests: Annotated[dict[str, str], _Check(_quantities)] = field(
        default_factory=lambda: {"cpu": "100m", "memory": "128Mi"}
    )
    """What the scheduler reserves; the HPA's CPU target is a percentage of the CPU request."""
    limits: Annotated[dict[str, str], _Check(_quantities)] = field(
        default_factory=lambda: {"memory": "256Mi"}
    )
    """Hard caps. No CPU limit by default (CFS throttling hurts a Go service's latency more than it
    protects its neighbours); a memory limit, from which GOMEMLIMIT is set to 90 %."""


@dataclass(frozen=True)
class KubeHpaConfig:
    """A HorizontalPodAutoscaler (autoscaling/v2) on CPU utilisation."""

    __pydantic_config__ = _STRICT

    enabled: bool = True
    """false: no HPA; kubernetes.replicas is applied on every deploy."""
    min_replicas: Annotated[int | None, _Check(_at_least_one)] = None
    """The fewest replicas (default: kubernetes.replicas)."""
    max_replicas: Annotated[int, _Check(_at_least_one)] = 10
    """The most replicas."""
    cpu_utilization: Annotated[int, _Check(_at_least_one)] = 70
    """Target average CPU use, in percent of the CPU request."""
    scale_up_percent: Annotated[int, _Check(_at_least_one)] = 100
    """At most this many percent more pods per 15 s when scaling up (and at least 4 pods)."""
    scale_down_percent: Annotated[int, _Check(_at_least_one)] = 10
    """At most this many percent fewer pods per minute when scaling down."""
    scale_down_stabilization: Annotated[float, _Seconds()] = 300.0
    """Scale down only to the highest recommendation of this window (a burst after a dip finds the pods)."""


@dataclass(frozen=True)
class KubePdbConfig:
    """A PodDisruptionBudget: how many pods voluntary disruptions (node drains) may take at once."""

    __pydantic_config__ = _STRICT

    enabled: bool = True
    """false: no PodDisruptionBudget."""
    max_unavailable: Annotated[int | str | None, _Check(_int_or_percent)] = None
    """Pods (or a percentage) a drain may take down at once (default: 1, unless min_available is set)."""
    min_available: Annotated[int | str | None, _Check(_int_or_percent)] = None
    """Pods (or a percentage) that must stay up during a drain, instead of max_unavailable."""

    def __post_init__(self) -> None:
        if self.max_unavailable is not None and self.min_available is not None:
            raise ValueError("expected max_unavailable or min_available in kubernetes.pdb, not both")


@dataclass(frozen=True)
class KubeCanaryConfig:
    """How 'goship canary start --target kubernetes' splits traffic: a canary Deployment and Service
    (<service>-canary) beside the stable ones, and one traffic provider's objects that goship owns."""

    __pydantic_config__ = _STRICT

    provider: Literal["gateway-api", "istio", "nginx"] = "gateway-api"
    """gateway-api (an HTTPRoute), istio (a VirtualService and DestinationRules) or nginx (a canary
    Ingress beside yours, for ingress-nginx)."""
    name: str | None = None
    """The name of goship's HTTPRoute / VirtualService / canary Ingress (default: <service>, and
    <ingress>-canary for nginx)."""
    gateway: str | None = None
    """gateway-api: the Gateway the route attaches to (required for gateway-api)."""
    host: str | None = None
    """istio: the host the VirtualService routes (default: the service's Service name)."""
    ingress: str | None = None
    """nginx: your main Ingress, whose hosts and paths the canary Ingress copies (default: <service>)."""


@dataclass(frozen=True)
class KubernetesConfig:
    """The Kubernetes target: 'goship render', 'deploy', 'history' and 'rollback' — a Deployment, a
    Service, a HorizontalPodAutoscaler and a PodDisruptionBudget per service."""

    __pydantic_config__ = _STRICT

    namespace: str | None = None
    """The namespace (default: --namespace, else the kubeconfig context's, else 'default')."""
    replicas: Annotated[int, _Check(_at_least_one)] = 3
    """Replicas of the Deployment (with the HPA: its minimum, and the count of a new Deployment)."""
    max_surge: Annotated[int | str, _Check(_int_or_percent)] = "25%"
    """Extra pods a rolling update may start (rounded up from a percentage)."""
    max_unavailable: Annotated[int | str, _Check(_int_or_percent)] = 0
    """Pods a rolling update may take out of service (rounded down); 0 keeps full capacity throughout."""
    progress_deadline: Annotated[float, _Seconds()] = 600.0
    """progressDeadlineSeconds: a rollout without progress this long is failed (and undone by goship)."""
    rollout_timeout: Annotated[float, _Seconds()] = 900.0
    """How long 'goship deploy' watches a rollout before it calls it stalled (--timeout overrides)."""
    revision_history_limit: Annotated[int, _Check(_non_negative)] = 10
    """Old ReplicaSets Kubernetes keeps (goship's own history does not depend on them)."""
    history_limit: Annotated[int, _Check(_at_least_one)] = 20
    """Deploys remembered in goship's history ConfigMap (rollback targets)."""
    port: Annotated[int | None, _Check(_port)] = None
    """The container port (default: the service's first port, else 8080)."""
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    """The Service's type."""
    service_port: Annotated[int, _Check(_port)] = 80
    """The port the Service listens on (forwarded to the container port)."""
    probes: KubeProbesConfig = field(default_factory=KubeProbesConfig)
    """Readiness, liveness and startup probes."""
    resources: KubeResourcesConfig = field(default_factory=KubeResourcesConfig)
    """Resource requests and limits."""
    hpa: KubeHpaConfig = field(default_factory=KubeHpaConfig)
    """The HorizontalPodAutoscaler."""
    pdb: KubePdbConfig = field(default_factory=KubePdbConfig)
    """The PodDisruptionBudget."""
    termination_grace_period: Annotated[float, _Seconds()] = 30.0
    """Between SIGTERM and SIGKILL (terminationGracePeriodSeconds), the preStop sleep included."""
    pre_stop_sleep: Annotated[int, _Check(_non_negative)] = 5
    """Seconds the container waits before SIGTERM, while endpoints stop sending it traffic (0: none)."""
    pod_labels: dict[str, str] = field(default_factory=dict)
    """Extra labels on the pods (e.g. team: payments)."""
    pod_annotations: dict[str, str] = field(default_factory=dict)
    """Extra annotations on the pods (e.g. prometheus.io/scrape: "true")."""
    canary: KubeCanaryConfig = field(default_factory=KubeCanaryConfig)
    """Canary releases on the cluster: the traffic provider and its objects."""

    def __post_init__(self) -> None:
        zero = {0, "0", "0%"}
        if self.max_surge in zero and self.max_unavailable in zero:
            raise ValueError("max_surge and max_unavailable may not both be 0 (the rollout could not move)")
        if self.hpa.enabled and (self.hpa.min_replicas or self.replicas) > self.hpa.max_replicas:
            raise ValueError(
                f"hpa.max_replicas ({self.hpa.max_replicas}) is below the minimum "
                f"({self.hpa.min_replicas or self.replicas} replicas)"
            )
        if self.termination_grace_period <= self.pre_stop_sleep:
            raise ValueError(
                f"termination_grace_period ({self.termination_grace_period:g}s) must be longer than "
                f"pre_stop_sleep ({self.pre_stop_sleep}s), or SIGTERM never reaches the process"
            )


@dataclass(frozen=True)
class GoshipConfig:
    """The whole of goship.yaml."""

    __pydantic_config__ = _STRICT

    versioning: VersioningConfig = field(default_factory=VersioningConfig)
    """Versions from conventional commits."""
    changelog: ChangelogConfig = field(default_factory=ChangelogConfig)
    """Release notes."""
    tags: TagsConfig = field(default_factory=TagsConfig)
    """Release tags."""
    modules: ModulesConfig = field(default_factory=ModulesConfig)
    """Which modules are released."""
    deps: DepsConfig = field(default_factory=DepsConfig)
    """Dependency gates."""
    services: list[ServiceConfig] = field(default_factory=list)
    """The Go services built into images (default: every main package of every module)."""
    images: ImagesConfig = field(default_factory=ImagesConfig)
    """Image naming, the local store and tags."""
    canary: CanaryConfig = field(default_factory=CanaryConfig)
    """Canary releases, on the local runtime and on Kubernetes."""
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)
    """The Kubernetes target: rendered manifests, deploy, history and rollback."""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(top: Path) -> GoshipConfig:
    """The effective config of the repository at ``top`` (defaults when there is no goship.yaml)."""
    path = top / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return GoshipConfig()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return _cached_parse(text, source=CONFIG_FILE)


def _cached_parse(text: str, *, source: str) -> GoshipConfig:
    """:func:`parse_config`, remembered: a valid file's settings are kept under the digest of its text and
    of the code that validated it, so the next command skips YAML and pydantic (~60 ms of a ~0.3 s
    command). A file with problems is never kept; an unreadable or stale entry is a miss."""
    import hashlib
    import pickle

    from goship.caches import cache_dir

    digest = hashlib.sha256(text.encode())
    for module in (__file__, semver.__file__):  # the schema and its validators
        stat = os.stat(module)
        digest.update(f"\0{module}\0{stat.st_mtime_ns}\0{stat.st_size}".encode())
    entry = cache_dir("config", f"{digest.hexdigest()}.pickle")
    try:
        found = pickle.loads(entry.read_bytes())
        if isinstance(found, GoshipConfig):
            return found
    except Exception:
        pass
    config = parse_config(text, source=source)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        scratch = entry.with_name(f".{entry.name}.{os.getpid()}")
        scratch.write_bytes(pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(scratch, entry)
    except OSError:
        pass  # a read-only cache only costs speed
    return config


def parse_config(text: str, *, source: str) -> GoshipConfig:
    """Validate goship.yaml's text; every problem is reported at once with its location."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{where}: {source} is not valid YAML: {problem}",
            hint="check the indentation and quoting around that line",
        ) from exc
    if data is None:
        return GoshipConfig()
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}:1:1: expected a mapping of settings at the top (found {type(data).__name__})",
            hint="see 'goship config schema' for the settings",
        )
    # An empty section ("versioning:" with everything commented out) means its defaults.
    data = {k: v for k, v in data.items() if v is not None}
    marks, problems = _marks(node, source)
    if not problems:
        from goship._plain import NotPlain, convert

        try:  # the common case, a file spelled exactly right, without pydantic's ~80 ms
            return convert(GoshipConfig, data)  # type: ignore[no-any-return]
        except NotPlain:
            pass  # pydantic decides, and explains
    from pydantic import ValidationError

    # Each section present is validated on its own: pydantic's set-up cost grows with the schema, and
    # most files set one or two sections.
    errors: list[Any] = []
    sections: dict[str, Any] = {}
    fields = {f.name: f for f in dataclasses.fields(GoshipConfig)}
    for key, value in data.items():
        if key not in fields:
            errors.append({"type": "extra_forbidden", "loc": (key,), "msg": "", "input": value})
            continue
        try:
            sections[key] = _section_adapter(key).validate_python(value)
        except ValidationError as exc:
            errors += [{**err, "loc": (key, *err["loc"])} for err in exc.errors()]
    for err in errors:
        loc = tuple(str(p) for p in err["loc"])
        line, col = _nearest_mark(marks, loc)
        dotted = ".".join(loc) or "(top)"
        problems.append(f"{source}:{line}:{col}: {dotted}: {_describe(err)}")
    if problems:
        count = len(problems)
        raise ConfigError(
            f"{source} has {count} problem{'s' if count != 1 else ''}",
            details=problems,
            hint="'goship config schema' prints every setting with its type and default",
        )
    return GoshipConfig(**sections)


def config_schema() -> dict[str, Any]:
    """The JSON Schema of goship.yaml, for editors."""
    schema = _adapter().json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "goship.yaml"
    return schema


def _section_adapter(name: str) -> TypeAdapter[Any]:
    from typing import get_type_hints

    from pydantic import TypeAdapter

    return TypeAdapter(get_type_hints(GoshipConfig)[name])


def _adapter() -> TypeAdapter[GoshipConfig]:
    from pydantic import TypeAdapter

    return TypeAdapter(GoshipConfig)


def _describe(err: Any) -> str:
    kind = err["type"]
    found = err.get("input")
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return "unknown setting"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    if kind == "literal_error":
        expected = msg.removeprefix("Input should be ")
        return f"expected {expected} (found {found!r})"
    return f"{msg[0].lower()}{msg[1:]} (found {found!r})"


def _marks(node: yaml.Node | None, source: str) -> tuple[dict[tuple[str, ...], tuple[int, int]], list[str]]:
    """Map every key path of the YAML document to the line and column of its value; and list the
    keys given twice in one mapping (YAML loaders keep the last one silently)."""
    import yaml

    out: dict[tuple[str, ...], tuple[int, int]] = {}
    duplicates: list[str] = []

    def walk(n: yaml.Node, path: tuple[str, ...]) -> None:
        out[path] = (n.start_mark.line + 1, n.start_mark.column + 1)
        if isinstance(n, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in n.value:
                name = str(key.value)
                where = (key.start_mark.line + 1, key.start_mark.column + 1)
                if name in seen:
                    dotted = ".".join((*path, name))
                    duplicates.append(f"{source}:{where[0]}:{where[1]}: {dotted}: set twice (keep one)")
                seen.add(name)
                child = (*path, name)
                walk(value, child)
                # Unknown keys are reported at the key itself.
                out[(*child, "__key__")] = where
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*path, str(i)))

    if node is not None:
        walk(node, ())
    return out, duplicates


def _nearest_mark(marks: dict[tuple[str, ...], tuple[int, int]], loc: tuple[str, ...]) -> tuple[int, int]:
    if (*loc, "__key__") in marks:
        return marks[(*loc, "__key__")]
    for end in range(len(loc), -1, -1):
        if loc[:end] in marks:
            return marks[loc[:end]]
    return (1, 1)
