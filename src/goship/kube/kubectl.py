"""The one wrapper around ``kubectl``: every call to a cluster goes through :class:`Kubectl`.

kubectl, not an HTTP client of goship's own, so that kubeconfig, contexts, exec credential plugins,
proxies and the API server's own answers behave exactly as they do for the person at the terminal.
Objects go in and come out as JSON; kubectl's failures become goship's errors: a cluster that refuses
or cannot be reached is a :class:`ClusterError` (exit 4), a missing kubectl an environment failure
(exit 3), a kubeconfig without the context asked for a usage error (exit 2).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from goship import _proc
from goship.errors import EnvironmentFailure, RemoteError, UsageError

FIELD_MANAGER = "goship"
"""The field manager of every server-side apply goship makes."""
KUBECTL_ENV = "GOSHIP_KUBECTL"
"""Names the kubectl program when --kubectl does not."""

Reason = Literal["NotFound", "Forbidden", "Conflict", "Invalid", "Unreachable", "Failed"]

RBAC_HINT = (
    "goship needs the Role in the README ('Kubernetes: RBAC'): deployments, replicasets, services, "
    "horizontalpodautoscalers, poddisruptionbudgets and configmaps in the namespace; "
    "check with 'kubectl auth can-i patch deployments -n NAMESPACE'"
)
_SERVER_ERROR = re.compile(r"Error from server \((\w+)\)")
# klog lines kubectl prints before its own message (E1128 14:17:40.489934 5848 memcache.go:265] ...)
_KLOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\] ")
_UNREACHABLE = (
    "Unable to connect to the server",
    "was refused - did you specify the right host or port",
    "connection refused",
    "no such host",
    "i/o timeout",
    "context deadline exceeded",
    "TLS handshake timeout",
)
_CONFIG = re.compile(
    r"Error in configuration|no configuration has been provided|context was not found|context \"[^\"]*\" does not exist"
)
_MAX_MESSAGE = 2000


class ClusterError(RemoteError):
    """The API server refused a request or could not be reached; ``reason`` says which, as Kubernetes
    names it (NotFound, Forbidden, Conflict, Invalid) or Unreachable / Failed."""

    def __init__(self, message: str, *, reason: Reason, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


def classify(stderr: str, *, command: str) -> ClusterError | UsageError:
    """kubectl's stderr as goship's error: what was asked, what the server said, what to do."""
    lines = [line for line in stderr.strip().splitlines() if not _KLOG.match(line)]
    text = "\n".join(lines).strip() or stderr.strip() or "(no output)"
    # kubectl's advice after a conflict names kubectl's flags; goship gives its own hint instead.
    text = text.split("\nPlease review the fields above", 1)[0].removeprefix("error: ")
    if len(text) > _MAX_MESSAGE:  # an admission webhook's answer can be long; the start says what
        text = text[:_MAX_MESSAGE] + " …"
    if _CONFIG.search(text):
        return UsageError(
            f"kubectl cannot use its configuration: {text}",
            hint="check --kubeconfig and --context (or KUBECONFIG and 'kubectl config get-contexts')",
        )
    server = _SERVER_ERROR.search(text)
    server_reason = server[1] if server else ("Invalid" if "is invalid" in text else "")
    if server_reason == "NotFound":
        return ClusterError(f"{command}: {text}", reason="NotFound")
    if server_reason == "Forbidden":
        return ClusterError(f"{command}: the API server refused: {text}", reason="Forbidden", hint=RBAC_HINT)
    if "the object has been modified" in text:
        return ClusterError(
            f"{command}: {text}",
            reason="Conflict",
            hint="someone changed it at the same moment (another goship deploy?); run the command again",
        )
    if server_reason == "Conflict" or ("conflict" in text and "Apply failed" in text):
        return ClusterError(
            f"{command}: {text}",
            reason="Conflict",
            hint="another field manager owns these fields (kubectl edit, a controller); "
            "take them over with --force-conflicts, or change them back there",
        )
    if server_reason in ("Invalid", "BadRequest", "UnprocessableEntity"):
        return ClusterError(
            f"{command}: the API server rejected the object: {text}",
            reason="Invalid",
            hint="'goship render' prints what goship sends; check goship.yaml's kubernetes section",
        )
    if any(marker in text for marker in _UNREACHABLE):
        return ClusterError(
            f"cannot reach the Kubernetes API server: {text}",
            reason="Unreachable",
            hint="check the cluster is up and --kubeconfig / --context name it ('kubectl cluster-info')",
        )
    return ClusterError(f"{command} failed: {text}", reason="Failed")


@dataclass(frozen=True)
class Kubectl:
    """kubectl with the kubeconfig, context and namespace goship was given (each None: kubectl's own
    default — KUBECONFIG or ~/.kube/config, its current context, the context's namespace)."""

    program: str = "kubectl"
    kubeconfig: Path | None = None
    context: str | None = None
    namespace: str | None = None
    request_timeout: str = "30s"
    """Per request; an API server that does not answer is an error, not a hang."""
    cwd: Path = Path(".")
    env: Mapping[str, str] | None = None

    @classmethod
    def from_options(
        cls,
        *,
        program: str | None,
        kubeconfig: Path | None,
        context: str | None,
        namespace: str | None,
    ) -> Kubectl:
        """kubectl as the command line asks: --kubectl, else $GOSHIP_KUBECTL, else kubectl on PATH."""
        return cls(
            program=program or os.environ.get(KUBECTL_ENV) or "kubectl",
            kubeconfig=kubeconfig,
            context=context,
            namespace=namespace,
        )

    def in_namespace(self, namespace: str) -> Kubectl:
        return replace(self, namespace=namespace)

    def argv(self, *args: str) -> list[str]:
        flags = [f"--request-timeout={self.request_timeout}"]
        if self.kubeconfig is not None:
            flags.append(f"--kubeconfig={self.kubeconfig}")
        if self.context is not None:
            flags.append(f"--context={self.context}")
        if self.namespace is not None:
            flags.append(f"--namespace={self.namespace}")
        return [self.program, *flags, *args]

    def run(self, *args: str, input: str | None = None, check: bool = True) -> _proc.Completed:
        """``kubectl [flags] ARGS``; a failure is raised as goship's error unless ``check`` is false."""
        try:
            done = _proc.run(self.argv(*args), cwd=self.cwd, env=self.env, input=input)
        except FileNotFoundError as exc:
            raise EnvironmentFailure(
                f"kubectl is not installed (looked for {self.program!r})",
                hint=f"install kubectl, or name it with --kubectl or ${KUBECTL_ENV}",
            ) from exc
        except PermissionError as exc:
            raise EnvironmentFailure(f"cannot run kubectl at {self.program!r}: {exc.strerror}") from exc
        if check and not done.ok:
            raise classify(done.stderr, command=f"kubectl {' '.join(args[:3])}")
        return done

    def json(self, *args: str, input: str | None = None) -> Any:
        """``kubectl ARGS -o json``, parsed."""
        out = self.run(*args, "-o", "json", input=input).stdout
        try:
            return json.loads(out)
        except json.JSONDecodeError as exc:
            raise ClusterError(
                f"kubectl {' '.join(args[:3])} printed no JSON: {out[:200]!r}", reason="Failed"
            ) from exc

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """One object, or None when there is none of that name (other errors are raised)."""
        try:
            found: dict[str, Any] = self.json("get", kind, name)
        except ClusterError as err:
            if err.reason == "NotFound":
                return None
            raise
        return found

    def select(self, kind: str, *, selector: str) -> list[dict[str, Any]]:
        """The objects of ``kind`` whose labels match ``selector``."""
        items: list[dict[str, Any]] = self.json("get", kind, "-l", selector)["items"]
        return items

    def apply(
        self,
        objects: Sequence[Mapping[str, Any]],
        *,
        dry_run: bool = False,
        force_conflicts: bool = False,
    ) -> list[dict[str, Any]]:
        """Server-side apply of ``objects`` as field manager ``goship``; the objects as the API server
        stored them (or would, with ``dry_run``: the server runs admission and validation, stores nothing)."""
        flags = ["apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-"]
        if force_conflicts:
            flags.append("--force-conflicts")
        if dry_run:
            flags.append("--dry-run=server")
        document = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
        answer = self.json(*flags, input=json.dumps(document))
        # kubectl prints a single object as itself and several as a List.
        return list(answer["items"]) if answer.get("kind") == "List" else [answer]

    def current_namespace(self) -> str:
        """The namespace commands run in: --namespace, else the context's, else ``default``."""
        if self.namespace:
            return self.namespace
        # Without a usable context this fails; the next request says why, with the right error.
        done = self.run(
            "config", "view", "--minify", "-o", "jsonpath={.contexts[0].context.namespace}", check=False
        )
        return (done.stdout.strip() if done.ok else "") or "default"
