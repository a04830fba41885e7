"""kubectl's failures, as kubectl 1.35 prints them, turned into goship's errors and exit codes; and the
flags every call carries."""

from __future__ import annotations

from pathlib import Path

import pytest

from goship.errors import UsageError
from goship.kube.kubectl import ClusterError, Kubectl, classify

REFUSED = (
    'E1128 14:17:40.533091    5855 memcache.go:265] "Unhandled Error" err="couldn\'t get current server API '
    'group list: Get \\"https://127.0.0.1:1/api?timeout=32s\\": dial tcp 127.0.0.1:1: connect: connection refused"\n'
    "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?\n"
)
FORBIDDEN = (
    'Error from server (Forbidden): deployments.apps "api" is forbidden: User "system:serviceaccount:rb:deployer" '
    'cannot get resource "deployments" in API group "apps" in the namespace "rb"\n'
)
NOT_FOUND = 'Error from server (NotFound): deployments.apps "nope" not found\n'
CONFLICT = (
    'error: Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: .data.x\n'
    "Please review the fields above--they currently have other managers. Here\n"
    "are the ways you can resolve this warning:\n"
    "* If you intend to manage all of these fields, please re-run the apply\n"
    "  command with the `--force-conflicts` flag.\n"
)
INVALID = (
    'The Deployment "api" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: '
    "may not be 0 when `maxSurge` is 0\n"
)


@pytest.mark.parametrize(
    ("stderr", "reason", "exit_code", "says"),
    [
        (REFUSED, "Unreachable", 4, "cannot reach the Kubernetes API server: The connection to the server"),
        (FORBIDDEN, "Forbidden", 4, "the API server refused: Error from server (Forbidden)"),
        (NOT_FOUND, "NotFound", 4, 'deployments.apps "nope" not found'),
        (CONFLICT, "Conflict", 4, "Apply failed with 1 conflict"),
        (INVALID, "Invalid", 4, "the API server rejected the object"),
        (
            "Unable to connect to the server: dial tcp: lookup k8s.invalid: no such host\n",
            "Unreachable",
            4,
            "lookup",
        ),
        ("error: something odd\n", "Failed", 4, "kubectl get x failed: something odd"),
    ],
)
def test_kubectl_failures_become_cluster_errors(stderr: str, reason: str, exit_code: int, says: str) -> None:
    err = classify(stderr, command="kubectl get x")

    assert isinstance(err, ClusterError)
    assert (err.reason, err.exit_code) == (reason, exit_code)
    assert says in err.message
    assert "memcache.go" not in err.message  # klog noise is dropped


def test_forbidden_names_the_role_to_grant() -> None:
    err = classify(FORBIDDEN, command="kubectl get deployment.apps api")

    assert err.hint is not None and "Role in the README" in err.hint


def test_conflicts_suggest_force_conflicts_instead_of_kubectls_advice() -> None:
    err = classify(CONFLICT, command="kubectl apply")

    assert "--force-conflicts" in str(err.hint)
    assert "Please review" not in err.message


def test_a_write_that_lost_a_race_says_to_run_again() -> None:
    stderr = (
        'error: Operation cannot be fulfilled on configmaps "goship-api-history": the object has been modified; '
        "please apply your changes to the latest version and try again\n"
        "Please review the fields above--they currently have other managers. Here\n"
    )

    err = classify(stderr, command="kubectl apply")

    assert isinstance(err, ClusterError)
    assert err.reason == "Conflict"
    assert "run the command again" in str(err.hint)


@pytest.mark.parametrize(
    "stderr",
    [
        'error: context "nope" does not exist\n',
        "Error in configuration: context was not found for specified context: nope\n",
    ],
)
def test_a_kubeconfig_without_the_context_is_a_usage_error(stderr: str) -> None:
    err = classify(stderr, command="kubectl get x")

    assert type(err) is UsageError
    assert err.exit_code == 2
    assert err.hint is not None and "--context" in err.hint


def test_a_long_answer_is_cut() -> None:
    err = classify("Error from server (InternalError): " + "x" * 5000, command="kubectl apply")

    assert len(err.message) < 2100


def test_every_call_carries_the_request_timeout_and_the_options_given() -> None:
    kubectl = Kubectl(program="/opt/kubectl", kubeconfig=Path("/k/config"), context="prod", namespace="shop")

    assert kubectl.argv("get", "deployment.apps", "api") == [
        "/opt/kubectl",
        "--request-timeout=30s",
        "--kubeconfig=/k/config",
        "--context=prod",
        "--namespace=shop",
        "get",
        "deployment.apps",
        "api",
    ]
    assert Kubectl().argv("version") == ["kubectl", "--request-timeout=30s", "version"]


def test_the_program_comes_from_the_option_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOSHIP_KUBECTL", "/env/kubectl")

    assert (
        Kubectl.from_options(program=None, kubeconfig=None, context=None, namespace=None).program
        == "/env/kubectl"
    )
    assert Kubectl.from_options(program="/x", kubeconfig=None, context=None, namespace=None).program == "/x"
    monkeypatch.delenv("GOSHIP_KUBECTL")
    assert (
        Kubectl.from_options(program=None, kubeconfig=None, context=None, namespace=None).program == "kubectl"
    )
