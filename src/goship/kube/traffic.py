"""The canary engine's :class:`~goship.rollout.ports.TrafficRouter` port on the Gateway API: one
``HTTPRoute`` (``gateway.networking.k8s.io/v1``) that goship owns, server-side applied as field manager
``goship``.

Header and cookie matches become rules of their own ahead of the weighted rule; the Gateway API ranks
a rule with header matches above one without, so they win whatever the implementation's ordering.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from goship.errors import CheckFailedError, UsageError
from goship.kube.kubectl import Kubectl
from goship.kube.manifests import MANAGED_BY
from goship.rollout.ports import HeaderMatch, TrafficRules

API_VERSION = "gateway.networking.k8s.io/v1"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"


class GatewayRouter:
    """Splits traffic between versions' Services with an HTTPRoute attached to one Gateway."""

    def __init__(
        self,
        kubectl: Kubectl,
        namespace: str,
        route_name: str,
        *,
        parent_ref: str,
        service_for: Mapping[str, str],
        port: int,
    ) -> None:
        self._kubectl = kubectl.in_namespace(namespace)
        self.namespace = namespace
        self.route_name = route_name
        self.parent_ref = parent_ref
        """The Gateway's name (in the route's namespace)."""
        self.service_for = dict(service_for)
        """Version → the name of the Service in front of its pods."""
        self.port = port

    def route(self, rules: TrafficRules) -> dict[str, Any]:
        """The HTTPRoute that carries ``rules``."""
        if rules.sticky_header is not None:
            raise UsageError(
                "the Gateway API cannot split traffic by a hash of a header "
                f"(sticky_header {rules.sticky_header!r})",
                hint="route by a header match instead, or use the Istio router",
            )
        if rules.mirror_version is not None:
            raise UsageError("mirroring is not supported by goship's Gateway API router yet")
        check_weights(rules.weights)
        backends = [self._backend(version, weight) for version, weight in rules.weights.items()]
        http_rules = [
            {"matches": [{"headers": [_header_match(m)]}], "backendRefs": [self._backend(m.version, 100)]}
            for m in rules.matches
        ]
        http_rules.append({"backendRefs": backends})
        return {
            "apiVersion": API_VERSION,
            "kind": "HTTPRoute",
            "metadata": {
                "name": self.route_name,
                "namespace": self.namespace,
                "labels": {MANAGED_BY_LABEL: MANAGED_BY},
            },
            "spec": {"parentRefs": [{"name": self.parent_ref}], "rules": http_rules},
        }

    def check(self, rules: TrafficRules) -> dict[str, Any]:
        """The route :meth:`apply` would write for ``rules``, refused now (nothing written) when the
        Gateway API cannot carry them or a route of that name is not goship's."""
        route = self.route(rules)
        self._owned_or_missing()
        return route

    def apply(self, rules: TrafficRules) -> None:
        """Replace the route's rules with ``rules`` in one apply (creating the route the first time)."""
        self._kubectl.apply([self.check(rules)])

    def delete(self) -> None:
        """Remove the route goship created; nothing when there is none."""
        if self._owned_or_missing() is None:
            return
        self._kubectl.run("delete", "httproute", self.route_name, "--ignore-not-found")

    def _owned_or_missing(self) -> dict[str, Any] | None:
        return owned_or_missing(
            self._kubectl,
            "httproute",
            self.route_name,
            kind="HTTPRoute",
            namespace=self.namespace,
            hint="name another route for the canary, or delete that one if nobody needs it",
        )

    def _backend(self, version: str, weight: int) -> dict[str, Any]:
        try:
            service = self.service_for[version]
        except KeyError:
            known = ", ".join(sorted(self.service_for)) or "none"
            raise UsageError(f"no Service for version {version!r} (known: {known})") from None
        return {"name": service, "port": self.port, "weight": weight}


def owned_or_missing(
    kubectl: Kubectl, resource: str, name: str, *, kind: str, namespace: str, hint: str
) -> dict[str, Any] | None:
    """The live object goship's traffic provider would write, ``None`` when there is none; a
    CheckFailedError when one of that name exists without goship's label (goship never touches it)."""
    live = kubectl.get(resource, name)
    if live is None:
        return None
    labels = live.get("metadata", {}).get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY:
        raise CheckFailedError(
            f"{kind} {namespace}/{name} exists and is not goship's "
            f"(label {MANAGED_BY_LABEL}={labels.get(MANAGED_BY_LABEL, '')!r}, expected {MANAGED_BY!r})",
            hint=hint,
        )
    return live


def check_weights(weights: Mapping[str, int]) -> None:
    """Refuse weights that are not 0 or more each and 100 in all."""
    if sum(weights.values()) != 100 or any(w < 0 for w in weights.values()):
        raise UsageError(f"traffic weights: expected 0 or more each, summing to 100 (found {dict(weights)})")


def _header_match(match: HeaderMatch) -> dict[str, str]:
    """A Gateway API header match; prefixes and cookies become regular expressions (RE2 syntax)."""
    if (match.header is None) == (match.cookie is None):
        raise UsageError(f"a match for {match.version} needs either a header or a cookie (not both)")
    if match.header is not None:
        if match.kind == "exact":
            return {"type": "Exact", "name": match.header, "value": match.value}
        # Gateway API's header matches are Exact and RegularExpression only.
        pattern = match.value if match.kind == "regex" else f"^{re.escape(match.value)}.*"
        return {"type": "RegularExpression", "name": match.header, "value": pattern}
    cookie = re.escape(match.cookie or "")
    if match.kind == "exact":
        value = f"{re.escape(match.value)}(;|$)"
    elif match.kind == "prefix":
        value = re.escape(match.value)
    else:
        value = f"(?:{match.value})(;|$)"
    return {"type": "RegularExpression", "name": "Cookie", "value": f"(^|;\\s*){cookie}={value}"}
