"""The canary engine's :class:`~goship.rollout.ports.TrafficRouter` port on ingress-nginx: a canary
``Ingress`` (``networking.k8s.io/v1``) that goship owns beside the user's main one, steered by
ingress-nginx's ``canary-*`` annotations and server-side applied as field manager ``goship``.

ingress-nginx pairs the canary Ingress with the main one by host and path and supports one canary per
main Ingress: two versions, a weight, one header and one cookie, each sending requests to the canary
(header first, then cookie, then weight). Whatever the rules ask beyond that is refused, not approximated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from goship.errors import CheckFailedError, UsageError
from goship.kube.kubectl import ClusterError, Kubectl
from goship.kube.manifests import MANAGED_BY
from goship.kube.traffic import check_weights, owned_or_missing
from goship.rollout.ports import HeaderMatch, TrafficRules

API_VERSION = "networking.k8s.io/v1"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
INGRESS = "ingresses.networking.k8s.io"
PREFIX = "nginx.ingress.kubernetes.io/"
CANARY = PREFIX + "canary"
CANARY_WEIGHT = PREFIX + "canary-weight"
CANARY_WEIGHT_TOTAL = PREFIX + "canary-weight-total"
CANARY_BY_HEADER = PREFIX + "canary-by-header"
CANARY_BY_HEADER_VALUE = PREFIX + "canary-by-header-value"
CANARY_BY_HEADER_PATTERN = PREFIX + "canary-by-header-pattern"
CANARY_BY_COOKIE = PREFIX + "canary-by-cookie"
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
COOKIE_ALWAYS = "always"
"""The one cookie value that sends a request to ingress-nginx's canary."""


class NginxRouter:
    """Splits traffic between a stable and a canary version with a canary Ingress beside ``main_ingress``."""

    def __init__(
        self,
        kubectl: Kubectl,
        namespace: str,
        name: str,
        *,
        main_ingress: str,
        service_for: Mapping[str, str],
        port: int,
        stable: str,
        canary: str,
    ) -> None:
        if name == main_ingress:
            raise UsageError(
                f"the canary Ingress needs a name of its own (found {name!r}, the main Ingress's)",
                hint=f"name it after the main one, e.g. {main_ingress}-canary",
            )
        if stable == canary:
            raise UsageError(f"expected two versions, a stable and a canary (found {stable!r} twice)")
        for role, version in (("stable", stable), ("canary", canary)):
            if version not in service_for:
                known = ", ".join(sorted(service_for)) or "none"
                raise UsageError(f"no Service for the {role} version {version!r} (known: {known})")
        self._kubectl = kubectl.in_namespace(namespace)
        self.namespace = namespace
        self.name = name
        """The canary Ingress's name."""
        self.main_ingress = main_ingress
        """The user's Ingress in front of the stable version; read, never written."""
        self.service_for = dict(service_for)
        """Version → the name of the Service in front of its pods; read at every apply (a promotion in place
        points the canary's version at the stable Service)."""
        self.port = port
        """The Services' port."""
        self.stable = stable
        self.canary = canary

    def canary_ingress(self, rules: TrafficRules, main: Mapping[str, Any]) -> dict[str, Any]:
        """The canary Ingress that carries ``rules``, for the main Ingress ``main`` (as the cluster has it)."""
        annotations = {
            CANARY: "true",
            CANARY_WEIGHT: str(self._canary_weight(rules)),
            CANARY_WEIGHT_TOTAL: "100",
            **self._match_annotations(rules),
        }
        main_meta = main.get("metadata", {})
        main_spec = main.get("spec", {})
        if (main_meta.get("annotations") or {}).get(CANARY) == "true":
            raise CheckFailedError(
                f"Ingress {self.namespace}/{self.main_ingress} is itself a canary Ingress ({CANARY}: true)",
                hint="name the Ingress in front of the stable version as the main one",
            )
        legacy_class = (main_meta.get("annotations") or {}).get(INGRESS_CLASS_ANNOTATION)
        if legacy_class is not None:
            annotations[INGRESS_CLASS_ANNOTATION] = legacy_class
        spec: dict[str, Any] = {"rules": self._rules(main_spec.get("rules") or [])}
        if main_spec.get("ingressClassName") is not None:
            spec["ingressClassName"] = main_spec["ingressClassName"]
        return {
            "apiVersion": API_VERSION,
            "kind": "Ingress",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {MANAGED_BY_LABEL: MANAGED_BY},
                "annotations": annotations,
            },
            "spec": spec,
        }

    def apply(self, rules: TrafficRules) -> None:
        """Write the canary Ingress carrying ``rules`` (creating it the first time)."""
        self._kubectl.apply([self.check(rules)])

    def check(self, rules: TrafficRules) -> dict[str, Any]:
        """The canary Ingress :meth:`apply` would write for ``rules``, refused now (nothing written) when
        ingress-nginx cannot carry them, the main Ingress is missing or the name is taken."""
        main = self._kubectl.get(INGRESS, self.main_ingress)
        if main is None:
            raise ClusterError(
                f"Ingress {self.namespace}/{self.main_ingress} (the main Ingress) does not exist",
                reason="NotFound",
                hint="create the Ingress in front of the stable version first; goship adds the canary beside it",
            )
        ingress = self.canary_ingress(rules, main)
        self._owned_or_missing()
        return ingress

    def delete(self) -> None:
        """Remove the canary Ingress goship created; nothing when there is none."""
        if self._owned_or_missing() is None:
            return
        self._kubectl.run("delete", INGRESS, self.name, "--ignore-not-found")

    def _canary_weight(self, rules: TrafficRules) -> int:
        if rules.sticky_header is not None:
            raise UsageError(
                "ingress-nginx cannot split traffic by a hash of a header "
                f"(sticky_header {rules.sticky_header!r}): its canary weight is per request",
                hint="send that user's requests to the canary with a header or cookie match instead",
            )
        if rules.mirror_version is not None and rules.mirror_percent > 0:
            raise UsageError(
                f"ingress-nginx's canary cannot mirror a share of requests (mirror to {rules.mirror_version!r} "
                f"{rules.mirror_percent} %)",
                hint="turn mirroring off for this canary, or use the Istio router",
            )
        weights = dict(rules.weights)
        others = sorted(set(weights) - {self.stable, self.canary})
        if others:
            raise UsageError(
                f"ingress-nginx splits between two versions, {self.stable!r} and {self.canary!r} "
                f"(found weights for {', '.join(map(repr, others))})",
                hint="one canary at a time: promote or abort the current one first",
            )
        check_weights(weights)
        return weights.get(self.canary, 0)

    def _match_annotations(self, rules: TrafficRules) -> dict[str, str]:
        headers = [m for m in rules.matches if m.header is not None]
        cookies = [m for m in rules.matches if m.cookie is not None]
        for m in rules.matches:
            if (m.header is None) == (m.cookie is None):
                raise UsageError(f"a match for {m.version} needs either a header or a cookie (not both)")
            if m.version != self.canary:
                raise UsageError(
                    f"ingress-nginx sends matched requests to the canary only ({self.canary!r}); "
                    f"a match for {m.version!r} ({_describe(m)}) cannot be expressed",
                    hint="match requests for the canary version only",
                )
        for what, found in (("header", headers), ("cookie", cookies)):
            if len(found) > 1:
                raise UsageError(
                    f"ingress-nginx's canary takes at most one {what} match "
                    f"(found {len(found)}: {', '.join(_describe(m) for m in found)})",
                    hint=f"keep one {what} match, or use a regex that covers them",
                )
        annotations: dict[str, str] = {}
        if headers:
            m = headers[0]
            annotations[CANARY_BY_HEADER] = m.header or ""
            if m.kind == "exact":
                annotations[CANARY_BY_HEADER_VALUE] = m.value
            elif m.kind == "prefix":
                annotations[CANARY_BY_HEADER_PATTERN] = f"^{re.escape(m.value)}"
            else:
                annotations[CANARY_BY_HEADER_PATTERN] = f"^(?:{m.value})$"
        if cookies:
            m = cookies[0]
            if m.kind != "exact" or m.value != COOKIE_ALWAYS:
                raise UsageError(
                    f"ingress-nginx sends a request to the canary by cookie only when its value is "
                    f"{COOKIE_ALWAYS!r} (found {_describe(m)})",
                    hint=f"set cookie {m.cookie}={COOKIE_ALWAYS} for the canary's users, or match a header instead",
                )
            annotations[CANARY_BY_COOKIE] = m.cookie or ""
        return annotations

    def _rules(self, main_rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The main Ingress's hosts and paths that lead to the stable Service, leading to the canary's."""
        stable, canary = self.service_for[self.stable], self.service_for[self.canary]
        backend = {"service": {"name": canary, "port": {"number": self.port}}}
        rules: list[dict[str, Any]] = []
        for rule in main_rules:
            paths = [
                {**{k: p[k] for k in ("path", "pathType") if k in p}, "backend": backend}
                for p in (rule.get("http") or {}).get("paths") or []
                if (p.get("backend") or {}).get("service", {}).get("name") == stable
            ]
            if paths:
                host = {"host": rule["host"]} if rule.get("host") else {}
                rules.append({**host, "http": {"paths": paths}})
        if not rules:
            raise CheckFailedError(
                f"Ingress {self.namespace}/{self.main_ingress} has no path to Service {stable} "
                f"(the stable version {self.stable!r})",
                hint="the canary Ingress copies the main Ingress's paths to the stable Service; "
                "check the main Ingress's backends",
            )
        return rules

    def _owned_or_missing(self) -> dict[str, Any] | None:
        return owned_or_missing(
            self._kubectl,
            INGRESS,
            self.name,
            kind="Ingress",
            namespace=self.namespace,
            hint="name another Ingress for the canary, or delete that one if nobody needs it",
        )


def _describe(match: HeaderMatch) -> str:
    where = f"header {match.header}" if match.header is not None else f"cookie {match.cookie}"
    return f"{where} {match.kind} {match.value!r}"
