"""``goship render``, ``deploy``, ``history`` and ``rollback``: the Kubernetes target. A service's
objects rendered from goship.yaml with its released image by digest, applied server-side through kubectl,
watched as ``kubectl rollout status`` watches, undone when the rollout fails; goship's history of what ran
well, and rollbacks to it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from goship.cli._app import Parameter
from goship.cli._cluster import (
    Context,
    Kubeconfig,
    KubectlProgram,
    Namespace,
    deployer_for,
    kubectl_for,
    open_service,
    release_for,
)
from goship.cli._options import ServiceName
from goship.errors import CheckFailedError, UsageError

if TYPE_CHECKING:
    from goship.cli._images import ImageSession
    from goship.image.services import Service
    from goship.kube.deploy import Deployer, DeployResult
    from goship.kube.history import DeployRecord, Revision
    from goship.kube.manifests import Manifest
    from goship.kube.release import Release

__all__ = ["deploy", "history", "render", "rollback"]

Flag = Annotated[bool, Parameter(negative=())]


def _objects(
    images: ImageSession, chosen: Service, release: Release, namespace: str | None
) -> list[Manifest]:
    from goship.kube.manifests import render as render_objects
    from goship.kube.manifests import workload

    config = images.session.config.kubernetes
    work = workload(chosen.name, ports=chosen.settings.ports, user=chosen.settings.user, config=config)
    return render_objects(work, release, config, namespace=namespace)


def render(
    *,
    service: ServiceName = None,
    version: str | None = None,
    image: str | None = None,
    namespace: Namespace = None,
    rewrite: Annotated[list[Path] | None, Parameter(negative=())] = None,
    in_place: Flag = False,
    store: Path | None = None,
    json: Flag = False,
) -> int:
    """Print a service's Kubernetes objects — Deployment, Service, HorizontalPodAutoscaler,
    PodDisruptionBudget — rendered from goship.yaml's kubernetes section, the image pinned by the digest
    of the release. With --rewrite, pin the image references of your own manifests instead.

    Parameters
    ----------
    version
        The release whose image is used (default: the version HEAD builds as); its digest comes from
        the release record 'goship publish' kept.
    image
        The image by digest instead (REGISTRY/REPOSITORY@sha256:…).
    namespace
        metadata.namespace of every object (default: kubernetes.namespace; none: kubectl decides).
    rewrite
        A manifest of your own: print it with every image of the service's repository pinned to the
        release's digest (comments and layout kept); repeatable.
    in_place
        With --rewrite: write the files instead of printing them.
    store
        goship's local store, where the release records are.
    json
        Print a v1 List (with --rewrite: {"files": [{"path", "replacements", "text"}]}).

    Example: goship render --version v1.4.0 | kubectl apply --server-side -f -
    """
    from goship.ui import console

    images, chosen = open_service(service, store)
    release = release_for(images, chosen, version=version, image=image)
    if rewrite:
        return _rewrite(rewrite, release, in_place=in_place, json=json)
    if in_place:
        raise UsageError("--in-place rewrites files given with --rewrite", hint="add --rewrite FILE")
    from goship.kube.manifests import to_list, to_yaml

    objects = _objects(images, chosen, release, namespace or images.session.config.kubernetes.namespace)
    if json:
        console.print_json(to_list(objects))
    else:
        import sys

        sys.stdout.write(to_yaml(objects))
    return 0


def _rewrite(files: list[Path], release: Release, *, in_place: bool, json: bool) -> int:
    import sys

    from goship.kube.rewrite import rewrite_images
    from goship.ui import console

    results = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
        results.append((path, rewrite_images(text, release)))
    if not any(r.replacements for _, r in results):
        raise UsageError(
            f"no image of {release.repository} in {', '.join(map(str, files))}",
            hint="the service's image comes from goship.yaml services[].image or images.registry",
        )
    for path, result in results:
        for r in result.replacements:
            console.info(f"{path}:{r.line}: {r.before} → {r.after}")
        if in_place and result.replacements:
            scratch = path.with_name(f".{path.name}.goship")
            scratch.write_text(result.text, encoding="utf-8")
            scratch.replace(path)
    if json:
        console.print_json(
            {
                "files": [
                    {
                        "path": str(path),
                        "replacements": [
                            {"line": r.line, "before": r.before, "after": r.after}
                            for r in result.replacements
                        ],
                        "text": result.text,
                    }
                    for path, result in results
                ],
                "in_place": in_place,
            }
        )
    elif not in_place:
        sys.stdout.write("---\n".join(result.text for _, result in results))
    return 0


def deploy(
    *,
    service: ServiceName = None,
    version: str | None = None,
    image: str | None = None,
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    kubectl: KubectlProgram = None,
    wait: bool = True,
    undo: bool = True,
    timeout: float | None = None,
    force_conflicts: Flag = False,
    store: Path | None = None,
    dry_run: Flag = False,
    json: Flag = False,
) -> int:
    """Deploy a release to Kubernetes: server-side apply (field manager goship) of the service's objects,
    with a change-cause naming version, digest and commit; watch the rollout as 'kubectl rollout status'
    does; when it fails (progress deadline exceeded) or stalls (--timeout), undo it to the last known-good
    deploy and exit 1.

    Parameters
    ----------
    version
        The release to deploy (default: the version HEAD builds as), by its release record.
    image
        The image by digest instead (REGISTRY/REPOSITORY@sha256:…).
    wait
        Watch the rollout to its end (--no-wait: apply and return).
    undo
        Undo a failed or stalled rollout (--no-undo: leave it for a person to look at).
    timeout
        Seconds to watch before calling the rollout stalled (default: kubernetes.rollout_timeout).
    force_conflicts
        Take over fields another field manager owns (kubectl edit, another tool).
    store
        goship's local store, where the release records are.
    dry_run
        Server-side dry run: the API server validates and admits the objects, stores nothing; print
        what would be created or changed.
    json
        Print one JSON document: {"action", "service", "namespace", "version", "digest", "commit",
        "image", "dry_run", "changes", "rollout": {"verdict", "message", "seconds", "revision"}, "undo"}.

    Example: goship deploy --version v1.4.0 -n shop
    """
    images, chosen = open_service(service, store)
    release = release_for(images, chosen, version=version, image=image)
    client = kubectl_for(images, program=kubectl, kubeconfig=kubeconfig, context=context, namespace=namespace)
    deployer = deployer_for(images, chosen, client, json=json)
    objects = _objects(images, chosen, release, deployer.kubectl.namespace)
    if dry_run:
        return _dry_run(deployer, release, objects, force_conflicts=force_conflicts, json=json)
    config = images.session.config.kubernetes
    from goship.kube.manifests import strategy_summary

    deployer.say(f"{chosen.name}: {strategy_summary(config)}")
    result = deployer.deploy(
        release,
        objects,
        wait=wait,
        undo=undo,
        timeout=_timeout(timeout, config.rollout_timeout),
        force_conflicts=force_conflicts,
    )
    return _report(result, json=json)


def rollback(
    *,
    to: str | None = None,
    service: ServiceName = None,
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    kubectl: KubectlProgram = None,
    wait: bool = True,
    timeout: float | None = None,
    force_conflicts: Flag = False,
    store: Path | None = None,
    json: Flag = False,
) -> int:
    """Roll back to a known-good deploy from goship's history: its Deployment re-applied as it was, by
    digest — fast when Kubernetes still keeps its ReplicaSet, and possible when it does not.

    Parameters
    ----------
    to
        The version (or sha256 digest) to go back to (default: the newest known-good one that runs
        another digest than now).
    wait
        Watch the rollout to its end.
    timeout
        Seconds to watch before calling it stalled (default: kubernetes.rollout_timeout).
    force_conflicts
        Take over fields another field manager owns.
    store
        goship's local store (for the repository's settings only).
    json
        Print one JSON document, as deploy does.

    Example: goship rollback --to v1.3.0
    """
    images, chosen = open_service(service, store)
    client = kubectl_for(images, program=kubectl, kubeconfig=kubeconfig, context=context, namespace=namespace)
    deployer = deployer_for(images, chosen, client, json=json)
    config = images.session.config.kubernetes
    result = deployer.rollback(
        to, wait=wait, timeout=_timeout(timeout, config.rollout_timeout), force_conflicts=force_conflicts
    )
    return _report(result, json=json)


def history(
    *,
    service: ServiceName = None,
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    kubectl: KubectlProgram = None,
    store: Path | None = None,
    json: Flag = False,
) -> int:
    """What ran on the cluster: the Deployment's revisions (its ReplicaSets, with version, digest, commit
    and time) and goship's own record of deploys, rollbacks and undos with their outcomes.

    Parameters
    ----------
    store
        goship's local store (for the repository's settings only).
    json
        Print {"service", "namespace", "deployment", "revisions": [...], "record": [...]}.

    Example: goship history --json
    """
    from dataclasses import asdict

    from goship.kube.history import revisions
    from goship.ui import console

    images, chosen = open_service(service, store)
    client = kubectl_for(images, program=kubectl, kubeconfig=kubeconfig, context=context, namespace=namespace)
    deployer = deployer_for(images, chosen, client, json=json)
    live = deployer.live()
    record = deployer.history()
    record.settle(live)
    replica_sets = deployer.kubectl.select("replicaset.apps", selector=f"app={chosen.name}") if live else []
    kept = revisions(live, replica_sets) if live else []
    namespace_used = deployer.kubectl.namespace
    if json:
        console.print_json(
            {
                "service": chosen.name,
                "namespace": namespace_used,
                "deployment": chosen.name if live else None,
                "revisions": [asdict(r) for r in kept],
                "record": [r.summary() for r in record.records],
            }
        )
        return 0
    if live is None and not record.records:
        console.info(f"{chosen.name} is not deployed in namespace {namespace_used}")
        return 0
    _print_history(chosen.name, namespace_used, kept, record.records)
    return 0


def _print_history(
    name: str, namespace: str | None, kept: list[Revision], records: list[DeployRecord]
) -> None:
    from rich.table import Table

    from goship.ui import console

    out = console.stdout()
    table = Table(box=None, pad_edge=False, header_style="bold", title_justify="left")
    table.title = f"deployment {namespace}/{name}: revisions Kubernetes keeps"
    for col in ("revision", "version", "digest", "commit", "created", "pods", ""):
        table.add_column(col)
    for r in kept:
        table.add_row(
            str(r.revision),
            r.version or "—",
            _short(r.digest),
            r.commit[:12] or "—",
            r.created,
            f"{r.ready}/{r.replicas}",
            "← running" if r.current else "",
        )
    out.print(table)
    out.print()
    table = Table(box=None, pad_edge=False, header_style="bold", title_justify="left")
    table.title = "goship's record (rollback targets: complete)"
    for col in ("#", "action", "version", "digest", "commit", "time", "state", "revision"):
        table.add_column(col)
    for d in records:
        table.add_row(
            str(d.id),
            d.action,
            d.version,
            _short(d.digest),
            d.commit[:12],
            d.time,
            d.state,
            str(d.revision or "—"),
        )
    out.print(table)


def _short(digest: str) -> str:
    return f"{digest[:19]}…" if digest else "—"


def _timeout(given: float | None, configured: float) -> float:
    if given is None:
        return configured
    if given <= 0:
        raise UsageError(f"--timeout: expected seconds above 0 (not {given:g})")
    return given


def _dry_run(
    deployer: Deployer,
    release: Release,
    objects: list[Manifest],
    *,
    force_conflicts: bool,
    json: bool,
) -> int:
    from goship.kube.deploy import DeployResult
    from goship.ui import console

    changes = deployer.plan(objects, force_conflicts=force_conflicts)
    result = DeployResult(
        "deploy", release, deployer.kubectl.namespace or "", deployer.service, True, changes
    )
    if json:
        console.print_json(result.as_json())
        return 0
    console.info(
        f"dry run (validated by the API server, nothing stored): deploy {release.version} ({release.image})"
    )
    for change in changes:
        console.info(f"  {change.kind}/{change.name}: would {_verb(change.action)}")
    return 0


def _verb(action: str) -> str:
    return {"create": "be created", "update": "change", "unchanged": "stay unchanged"}.get(action, action)


def _report(result: DeployResult, *, json: bool) -> int:
    from goship.ui import console

    if json:
        console.print_json(result.as_json())
        return 0 if result.ok else 1
    rollout = result.rollout
    what = f"{result.action} {result.release.version} ({result.release.digest[:19]}…)"
    if rollout is None:
        console.info(f"{what}: applied to {result.namespace}/{result.name}, not watched")
        return 0
    if rollout.ok:
        console.info(f"{what}: {rollout.message} in {rollout.seconds:.1f}s (revision {rollout.revision})")
        return 0
    undo = result.undo
    if undo is None:
        raise CheckFailedError(
            f"{what}: the rollout {rollout.verdict}: {rollout.message}",
            hint="it was left as it is (--no-undo); 'goship rollback' returns to the last known-good deploy",
        )
    if undo.outcome is None:
        raise CheckFailedError(f"{what}: the rollout {rollout.verdict}: {rollout.message}; {undo.note}")
    back = "complete" if undo.outcome.ok else f"{undo.outcome.verdict}: {undo.outcome.message}"
    raise CheckFailedError(
        f"{what}: the rollout {rollout.verdict}: {rollout.message}",
        details=[f"{undo.note}: {back} in {undo.outcome.seconds:.1f}s"],
        hint="'goship history' shows every revision; fix the release and deploy again",
    )
