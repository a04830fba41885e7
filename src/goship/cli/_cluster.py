"""What the commands that reach a Kubernetes cluster share: its options (with their help, written once)
and the service, release, kubectl and deployer they open from them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from goship.cli._app import Parameter
from goship.errors import UsageError

if TYPE_CHECKING:
    from goship.cli._images import ImageSession
    from goship.image.services import Service
    from goship.kube.deploy import Deployer
    from goship.kube.kubectl import Kubectl
    from goship.kube.release import Release

Namespace = Annotated[
    str | None,
    Parameter(
        name=["--namespace", "-n"],
        help="The namespace (default: kubernetes.namespace, else the kubeconfig context's).",
    ),
]
Kubeconfig = Annotated[
    Path | None,
    Parameter(help="The kubeconfig file (default: as kubectl: $KUBECONFIG, else ~/.kube/config)."),
]
Context = Annotated[str | None, Parameter(help="The kubeconfig context (default: its current context).")]
KubectlProgram = Annotated[
    str | None, Parameter(help="The kubectl program (default: $GOSHIP_KUBECTL, else kubectl on PATH).")
]


def open_service(name: str | None, store: Path | None) -> tuple[ImageSession, Service]:
    """The repository's images session and the one service the command acts on."""
    from goship.cli._images import open_images

    images = open_images(names=[name] if name else [], platforms=[], store=store, insecure=False)
    if len(images.services) != 1:
        names = ", ".join(s.name for s in images.services)
        raise UsageError(f"which service? this repository has {names}", hint="name one with --service")
    return images, images.services[0]


def release_for(images: ImageSession, chosen: Service, *, version: str | None, image: str | None) -> Release:
    """--image as given, else the release record of --version (default: what HEAD builds as)."""
    from goship.kube.release import load_release, release_of_image

    if image is not None:
        return release_of_image(image, service=chosen.name, version=version)
    if version is None:
        version = images.identity(chosen).version
    return load_release(images.store.root, chosen.name, version)


def kubectl_for(
    images: ImageSession,
    *,
    program: str | None,
    kubeconfig: Path | None,
    context: str | None,
    namespace: str | None,
) -> Kubectl:
    """kubectl as the options name it; the namespace defaults to goship.yaml's kubernetes.namespace."""
    from goship.kube.kubectl import Kubectl

    return Kubectl.from_options(
        program=program,
        kubeconfig=kubeconfig,
        context=context,
        namespace=namespace or images.session.config.kubernetes.namespace,
    )


def deployer_for(images: ImageSession, chosen: Service, kubectl: Kubectl, *, json: bool) -> Deployer:
    """The service's Deployer in kubectl's namespace, saying what it does unless the output is JSON."""
    from goship.kube.deploy import Deployer
    from goship.ui import console

    namespace = kubectl.current_namespace()
    return Deployer(
        kubectl.in_namespace(namespace),
        service=chosen.name,
        config=images.session.config.kubernetes,
        say=(lambda message: None) if json else console.info,
    )
