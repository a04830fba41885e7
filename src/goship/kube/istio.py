"""The canary engine's :class:`~goship.rollout.ports.TrafficRouter` port on Istio: one ``VirtualService``
and one ``DestinationRule`` per Service (``networking.istio.io/v1``) that goship owns, server-side applied
as field manager ``goship``.

Each version is a subset of the DestinationRule of the Service in front of its pods, selected by the
``version`` label goship's Deployments put on their pods. Header and cookie matches become HTTP routes of
their own ahead of the weighted route; Istio tries routes in order, the first match wins.

Rules that send everything to one version (no split, match or mirror) name its Service without a subset:
the VirtualService outlives the canary, and a later ``goship deploy`` changes the version label of the
pods behind the Service, which would leave a route to the old subset with no endpoints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from goship.errors import UsageError
from goship.kube.kubectl import Kubectl
from goship.kube.manifests import MANAGED_BY, label_value
from goship.kube.traffic import check_weights, owned_or_missing
from goship.rollout.ports import HeaderMatch, TrafficRules

API_VERSION = "networking.istio.io/v1"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
VERSION_LABEL = "version"
"""The pod label goship's Deployments carry the version in (as :func:`~goship.kube.manifests.label_value`)."""
VIRTUAL_SERVICE = "virtualservices.networking.istio.io"
DESTINATION_RULE = "destinationrules.networking.istio.io"

_NOT_DNS_LABEL = re.compile(r"[^a-z0-9-]+")
_FOREIGN_HINT = {
    "VirtualService": "name another VirtualService for the canary, or delete that one if nobody needs it",
    "DestinationRule": "goship writes a DestinationRule named after each Service it routes to; "
    "delete that one (moving its settings elsewhere) if nobody needs it",
}


class IstioRouter:
    """Splits traffic between versions' Services with a VirtualService and their DestinationRules."""

    def __init__(
        self,
        kubectl: Kubectl,
        namespace: str,
        name: str,
        *,
        host: str,
        service_for: Mapping[str, str],
        port: int,
        gateways: Sequence[str] = (),
    ) -> None:
        self._kubectl = kubectl.in_namespace(namespace)
        self.namespace = namespace
        self.name = name
        """The VirtualService's name."""
        self.host = host
        """The host clients call (the VirtualService's ``hosts``), e.g. the stable Service's name."""
        self.service_for = dict(service_for)
        """Version → the name of the Service in front of its pods; each Service gets a DestinationRule.
        Read at every apply: a promotion in place points the canary's version at the stable Service."""
        self.port = port
        """The Services' port."""
        self.gateways = tuple(gateways)
        """Istio Gateways the VirtualService binds to; none: the mesh's sidecars only."""
        self._services = list(dict.fromkeys(self.service_for.values()))
        _subsets(self.service_for)

    def virtual_service(self, rules: TrafficRules) -> dict[str, Any]:
        """The VirtualService that carries ``rules``."""
        if rules.sticky_header is not None:
            raise UsageError(
                "Istio cannot keep a user on one version while splitting by weight "
                f"(sticky_header {rules.sticky_header!r}): consistent hashing picks a pod, not a version",
                hint="send that user's requests to the canary with a header match instead",
            )
        check_weights(rules.weights)
        http: list[dict[str, Any]] = [
            {
                "name": f"match-{i}",
                "match": [{"headers": _header_match(m)}],
                "route": [{"destination": self._destination(m.version)}],
            }
            for i, m in enumerate(rules.matches, start=1)
        ]
        if not 0 <= rules.mirror_percent <= 100:
            raise UsageError(f"mirror_percent: expected 0 to 100 (found {rules.mirror_percent})")
        mirror = rules.mirror_version if rules.mirror_percent > 0 else None
        carried = [version for version, weight in rules.weights.items() if weight > 0]
        if len(carried) == 1 and not rules.matches and mirror is None:
            route = [{"destination": self._destination(carried[0], subset=False), "weight": 100}]
        else:
            route = [
                {"destination": self._destination(version), "weight": weight}
                for version, weight in rules.weights.items()
            ]
        weighted: dict[str, Any] = {"name": "weights", "route": route}
        if mirror is not None:
            weighted["mirror"] = self._destination(mirror)
            weighted["mirrorPercentage"] = {"value": float(rules.mirror_percent)}
        http.append(weighted)
        spec: dict[str, Any] = {"hosts": [self.host], "http": http}
        if self.gateways:
            spec["gateways"] = list(self.gateways)
        return {
            "apiVersion": API_VERSION,
            "kind": "VirtualService",
            "metadata": self._metadata(self.name),
            "spec": spec,
        }

    def destination_rules(self) -> list[dict[str, Any]]:
        """One DestinationRule per Service, a subset per version behind it."""
        return [
            {
                "apiVersion": API_VERSION,
                "kind": "DestinationRule",
                "metadata": self._metadata(service),
                "spec": {
                    "host": service,
                    "subsets": [
                        {"name": subset, "labels": {VERSION_LABEL: label_value(version)}}
                        for version, subset in subsets.items()
                    ],
                },
            }
            for service, subsets in self._by_service().items()
        ]

    def check(self, rules: TrafficRules) -> list[dict[str, Any]]:
        """The objects :meth:`apply` would write for ``rules``, refused now (nothing written) when Istio
        cannot carry them or one of the same name is not goship's."""
        objects = [*self.destination_rules(), self.virtual_service(rules)]
        for obj in objects:
            self._owned_or_missing(obj["kind"], obj["metadata"]["name"])
        return objects

    def apply(self, rules: TrafficRules) -> None:
        """Write the DestinationRules and the VirtualService carrying ``rules`` in one apply (subsets
        first, so no route names a subset that does not exist yet)."""
        self._kubectl.apply(self.check(rules))

    def delete(self) -> None:
        """Remove the VirtualService and DestinationRules goship created; nothing when there are none."""
        services = dict.fromkeys([*self._services, *self._by_service()])
        kinds = [("VirtualService", self.name)] + [("DestinationRule", s) for s in services]
        present = [(kind, name) for kind, name in kinds if self._owned_or_missing(kind, name) is not None]
        for kind, name in present:
            resource = VIRTUAL_SERVICE if kind == "VirtualService" else DESTINATION_RULE
            self._kubectl.run("delete", resource, name, "--ignore-not-found")

    def _metadata(self, name: str) -> dict[str, Any]:
        return {"name": name, "namespace": self.namespace, "labels": {MANAGED_BY_LABEL: MANAGED_BY}}

    def _by_service(self) -> dict[str, dict[str, str]]:
        """Service → {version: subset name}, in the order of ``service_for``."""
        subsets = _subsets(self.service_for)
        found: dict[str, dict[str, str]] = {}
        for version, service in self.service_for.items():
            found.setdefault(service, {})[version] = subsets[version]
        return found

    def _owned_or_missing(self, kind: str, name: str) -> dict[str, Any] | None:
        resource = VIRTUAL_SERVICE if kind == "VirtualService" else DESTINATION_RULE
        return owned_or_missing(
            self._kubectl, resource, name, kind=kind, namespace=self.namespace, hint=_FOREIGN_HINT[kind]
        )

    def _destination(self, version: str, *, subset: bool = True) -> dict[str, Any]:
        try:
            service = self.service_for[version]
        except KeyError:
            known = ", ".join(sorted(self.service_for)) or "none"
            raise UsageError(f"no Service for version {version!r} (known: {known})") from None
        if not subset:
            return {"host": service, "port": {"number": self.port}}
        return {"host": service, "subset": _subsets(self.service_for)[version], "port": {"number": self.port}}


def subset_name(version: str) -> str:
    """``version`` as a DestinationRule subset name, which Istio wants a DNS label
    (``v1.4.0+incompatible`` → ``v1-4-0-incompatible``)."""
    return _NOT_DNS_LABEL.sub("-", label_value(version).lower()).strip("-")[:63].rstrip("-")


def _subsets(service_for: Mapping[str, str]) -> dict[str, str]:
    """Version → subset name; two versions behind one Service may not share a name."""
    subsets: dict[str, str] = {}
    taken: dict[tuple[str, str], str] = {}
    for version, service in service_for.items():
        subset = subset_name(version)
        if not subset:
            raise UsageError(f"version {version!r} cannot name an Istio subset (no letter or digit in it)")
        other = taken.setdefault((service, subset), version)
        if other != version:
            raise UsageError(
                f"versions {other!r} and {version!r} behind Service {service} would share "
                f"Istio subset {subset!r}",
                hint="Istio subset names are lower-case DNS labels; give the versions distinct names",
            )
        subsets[version] = subset
    return subsets


def _header_match(match: HeaderMatch) -> dict[str, dict[str, str]]:
    """Istio header matches (lower-case names, RE2 regular expressions matching the whole value); a
    cookie becomes a regular expression on the ``cookie`` header, as Flagger writes it."""
    if (match.header is None) == (match.cookie is None):
        raise UsageError(f"a match for {match.version} needs either a header or a cookie (not both)")
    if match.header is not None:
        return {match.header.lower(): {match.kind: match.value}}
    if match.kind == "exact":
        value = re.escape(match.value)
    elif match.kind == "prefix":
        value = f"{re.escape(match.value)}[^;]*"
    else:
        value = f"(?:{match.value})"
    cookie = re.escape(match.cookie or "")
    return {"cookie": {"regex": f"^(.*?;\\s*)?({cookie}={value})(;.*)?$"}}
