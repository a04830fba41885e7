"""The Go services of a repository: from goship.yaml's ``services``, or by default every ``package main``
of every module."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from goship.config import GoshipConfig, LdflagsConfig, ServiceConfig
from goship.errors import UsageError
from goship.image.gobuild import BuildRequest, find_mains, parse_platform
from goship.image.oci import Platform
from goship.modules import Module
from goship.versioning.plan import BuildIdentity

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


@dataclass(frozen=True)
class Service:
    """One service, resolved: where its main package is, what it is built for, where it is published."""

    name: str
    module: Module
    package: str
    """The main package, relative to the module (``./cmd/orders``)."""
    repository: str | None
    """Where it is published (``registry.example.com/team/orders``); ``None`` when nowhere is configured."""
    platforms: tuple[Platform, ...]
    settings: ServiceConfig
    """The service's goship.yaml entry (defaults filled in for a discovered service)."""

    @property
    def ldflags(self) -> LdflagsConfig:
        return self.settings.ldflags

    def module_dir(self, top: Path) -> Path:
        return top if self.module.dir == "." else top / self.module.dir


def resolve_services(
    top: Path,
    modules: Sequence[Module],
    config: GoshipConfig,
    *,
    names: Sequence[str] = (),
    platforms: Sequence[str] = (),
) -> list[Service]:
    """The services to build: goship.yaml's, else each main package; only ``names`` when given."""
    entries = list(config.services)
    if not entries:
        for module in modules:
            module_dir = top if module.dir == "." else top / module.dir
            for main in find_mains(module_dir):
                entries.append(ServiceConfig(name=main.name, main=main.package, module=module.dir))
    if not entries:
        raise UsageError(
            "no Go service to build: no 'package main' in any module and no 'services' in goship.yaml",
            hint="add a main package (e.g. cmd/orders/main.go) or list services in goship.yaml",
        )
    by_dir = {m.dir: m for m in modules}
    services = []
    for entry in entries:
        if not set(entry.name) <= _NAME_CHARS or not entry.name:
            raise UsageError(
                f"service name {entry.name!r}: expected lower-case letters, digits, '-', '_' or '.'",
                hint="image names are lower case (OCI distribution spec); rename the service in goship.yaml",
            )
        wanted_dir = entry.module.strip().removeprefix("./").rstrip("/") or "."
        owner = by_dir.get(wanted_dir)
        if owner is None:
            raise UsageError(
                f"service {entry.name}: no Go module at {entry.module!r} (expected one of: {', '.join(by_dir)})",
                hint="set 'module' to the directory of the service's go.mod, relative to the repository root",
            )
        wanted = platforms or entry.platforms
        repository = entry.image or (
            f"{config.images.registry.rstrip('/')}/{entry.name}" if config.images.registry else None
        )
        services.append(
            Service(
                name=entry.name,
                module=owner,
                package=entry.main,
                repository=repository,
                platforms=tuple(parse_platform(p) for p in wanted),
                settings=entry,
            )
        )
    if names:
        known = {s.name for s in services}
        missing = [n for n in names if n not in known]
        if missing:
            raise UsageError(
                f"no service named {missing[0]!r} (expected one of: {', '.join(sorted(known))})",
                hint="services come from goship.yaml 'services', or are the main packages' directory names",
            )
        services = [s for s in services if s.name in names]
    duplicates = sorted({s.name for s in services if [t.name for t in services].count(s.name) > 1})
    if duplicates:
        raise UsageError(
            f"two services are named {duplicates[0]!r}",
            hint="give each service its own name in goship.yaml 'services'",
        )
    return services


def split_repository(repository: str) -> tuple[str, str]:
    """``registry.example.com/team/orders`` → host, path; the host must be named (no Docker Hub guess)."""
    host, _, path = repository.partition("/")
    if not path or not ("." in host or ":" in host or host == "localhost") or path != path.lower():
        raise UsageError(
            f"image {repository!r}: expected REGISTRY/PATH such as registry.example.com/team/orders",
            hint="name the registry host explicitly (docker.io/… for Docker Hub); paths are lower case",
        )
    return host, path


def repository_of(service: str, repository: str | None) -> str:
    """Where a service is published; a usage error when goship.yaml names no place."""
    if repository is None:
        raise UsageError(
            f"service {service} has nowhere to be published",
            hint="set 'image' on the service in goship.yaml, or images.registry for all of them",
        )
    split_repository(repository)
    return repository


def build_requests(service: Service, top: Path, identity: BuildIdentity) -> list[BuildRequest]:
    """The Go builds of ``service`` at ``identity``, one per platform."""
    flags = service.ldflags
    return [
        BuildRequest(
            module_dir=service.module_dir(top),
            package=service.package,
            output_name=service.name,
            platform=platform,
            version=identity.version,
            commit=identity.commit,
            date=identity.date,
            version_var=flags.version,
            commit_var=flags.commit,
            date_var=flags.date,
        )
        for platform in service.platforms
    ]
