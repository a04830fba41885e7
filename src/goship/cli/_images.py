"""What 'goship build' and 'goship publish' share: the local store, the services, registry clients."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from goship.caches import cache_dir
from goship.cli._session import Session, open_session
from goship.git import web_url
from goship.gotool import Go
from goship.image.gobuild import BuildCache, BuiltBinary, start_all
from goship.image.services import Service, build_requests, resolve_services
from goship.versioning.plan import BuildIdentity, build_identity

if TYPE_CHECKING:
    from concurrent.futures import Future

    from goship.image.build import ImageBuilder
    from goship.image.layout import Layout
    from goship.image.registry import Registry


@dataclass
class ImageSession:
    session: Session
    go: Go
    store_root: Path
    """goship's local OCI image layout, opened (created) on first use of :attr:`store`."""
    services: list[Service]
    insecure: bool

    @cached_property
    def store(self) -> Layout:
        from goship.image.layout import Layout  # the image stack: imported while Go builds

        return Layout(self.store_root)

    def identity(self, service: Service) -> BuildIdentity:
        return build_identity(self.session.repo, service.module)

    def open_registry(self, host: str) -> Registry:
        from goship.image.auth import credentials_for
        from goship.image.registry import Registry

        return Registry(host, credentials=credentials_for(host), insecure=self.insecure)

    def start_builds(
        self, service: Service, identity: BuildIdentity, work_dir: Path, *, cache: bool
    ) -> Future[list[BuiltBinary]]:
        """Start the service's Go builds in the background (into ``work_dir/<service>``, where
        :meth:`builder`'s builder would put them)."""
        requests = build_requests(service, self.session.repo.top, identity)
        return start_all(
            self.go, requests, work_dir / service.name, cache=BuildCache.default() if cache else None
        )

    def builder(self, work_dir: Path, *, cache: bool) -> ImageBuilder:
        from goship.image.build import ImageBuilder  # the image stack: imported while Go builds

        repo = self.session.repo
        return ImageBuilder(
            top=repo.top,
            go=self.go,
            store=self.store,
            work_dir=work_dir,
            cache=BuildCache.default() if cache else None,
            source_url=web_url(repo.git.remote_url(self.session.config.tags.remote)),
            open_registry=self.open_registry,
        )


def default_store(top: Path) -> Path:
    """``~/.cache/goship/store/<repo>-<hash>``: outside the work tree, so builds never make it dirty."""
    return cache_dir("store") / f"{top.name}-{hashlib.sha256(str(top).encode()).hexdigest()[:12]}"


def open_images(
    *,
    names: list[str],
    platforms: list[str],
    store: Path | None,
    insecure: bool,
    cwd: Path | None = None,
) -> ImageSession:
    session = open_session(cwd)
    repo, config = session.repo, session.config
    go = Go(repo.top)
    services = resolve_services(repo.top, repo.modules, config, names=names, platforms=platforms)
    where = store or (
        Path(config.images.store).expanduser() if config.images.store else default_store(repo.top)
    )
    return ImageSession(session=session, go=go, store_root=where, services=services, insecure=insecure)
