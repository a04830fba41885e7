"""The Ingress the ingress-nginx canary tests start from, and the canary Ingress they expect of goship."""

from __future__ import annotations

from typing import Any


def nginx_ingress_spec(service: str) -> dict[str, Any]:
    """An nginx-class Ingress spec sending everything under api.example.com/ to ``service`` port 80."""
    return {
        "ingressClassName": "nginx",
        "rules": [
            {
                "host": "api.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": service, "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ],
    }


def nginx_ingress(name: str, service: str, *, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """The Ingress ``name`` with :func:`nginx_ingress_spec` of ``service``."""
    metadata: dict[str, Any] = {"name": name}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata,
        "spec": nginx_ingress_spec(service),
    }
