"""Which of kubectl's failures are worth another try (stderr as kubectl 1.35 prints it, recorded against
kube-apiserver 1.35.4 behind the fault proxy of tests/integration/kubefaults.py), which requests may be
made again, and the retries themselves: a stand-in kubectl (a shell script answering from files) and a
fake clock, so nothing sleeps and nothing touches a network."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest

from goship.kube.kubectl import KUBECTL_BACKOFF, ClusterError, Kubectl, classify, safe_to_repeat

PROXY = "http://127.0.0.1:36897"
KLOG = 'I1128 15:59:10.190410    5366 log.go:244] Unsolicited response received on idle HTTP channel starting with "0\\r\\n\\r\\n"; err=<nil>\n'
INTERNAL = "Error from server (InternalError): Internal error occurred: etcdserver: request timed out\n"
UNAVAILABLE = "Error from server (ServiceUnavailable): the server is currently unable to handle the request\n"
TIMEOUT = (
    "Error from server (Timeout): the server was unable to return a response in the time allotted, but may "
    "still be processing the request (get deployments.apps api)\n"
)
TOO_MANY = "Error from server (TooManyRequests): Too many requests, please try again later.\n"
EOF = "Unable to connect to the server: EOF\n"
RESET = (
    f'error: Get "{PROXY}/api/v1/namespaces/x/configmaps/h": read tcp 127.0.0.1:36488->127.0.0.1:36897: read: '
    "connection reset by peer - error from a previous attempt: read tcp 127.0.0.1:36484->127.0.0.1:36897: "
    "read: connection reset by peer\n"
)
CREATE_EOF = f'error: error when creating "STDIN": Post "{PROXY}/api/v1/namespaces/x/configmaps?fieldManager=goship": EOF\n'
GOAWAY = (
    "Unable to connect to the server: http2: server sent GOAWAY and closed the connection; LastStreamID=1, "
    'ErrCode=NO_ERROR, debug=""\n'
)
NO_STATUS_500 = (
    'Error from server (InternalError): an error on the server ("unknown") has prevented the request from '
    "succeeding (get deployments.apps api)\n"
)
GENERATOR_500 = "error: failed to create deployment: Internal error occurred: etcdserver: leader changed\n"
REFUSED = "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?\n"
FORBIDDEN = 'Error from server (Forbidden): configmaps "h" is forbidden: User "nobody" cannot get resource\n'
INVALID = (
    'The Deployment "api" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0\n'
)
NOT_FOUND = 'Error from server (NotFound): configmaps "h" not found\n'
MODIFIED = (
    'error: Operation cannot be fulfilled on configmaps "h": the object has been modified; please apply your '
    "changes to the latest version and try again\n"
)
EXISTS = 'Error from server (AlreadyExists): error when creating "STDIN": configmaps "h" already exists\n'
X509 = "Unable to connect to the server: tls: failed to verify certificate: x509: certificate signed by unknown authority\n"
NO_HOST = "Unable to connect to the server: dial tcp: lookup k8s.invalid: no such host\n"


@pytest.mark.parametrize(
    ("stderr", "reason", "says"),
    [
        (INTERNAL, "ServerError", "kubectl get x: the API server failed: Error from server (InternalError)"),
        (KLOG + UNAVAILABLE, "ServerError", "the API server failed: Error from server (ServiceUnavailable)"),
        (TIMEOUT, "ServerError", "unable to return a response in the time allotted"),
        (NO_STATUS_500, "ServerError", "has prevented the request from succeeding"),
        (GENERATOR_500, "ServerError", "failed to create deployment: Internal error occurred"),
        (TOO_MANY, "TooManyRequests", "the API server is overloaded and asked to come back later"),
        (EOF, "Unreachable", "cannot reach the Kubernetes API server: Unable to connect to the server: EOF"),
        (RESET, "Unreachable", "connection reset by peer"),
        (CREATE_EOF, "Unreachable", 'Post "http://127.0.0.1:36897/api/v1/namespaces/x/configmaps'),
        (GOAWAY, "Unreachable", "http2: server sent GOAWAY"),
        (REFUSED, "Unreachable", "was refused"),
    ],
)
def test_faults_that_may_pass_are_transient(stderr: str, reason: str, says: str) -> None:
    err = classify(stderr, command="kubectl get x")

    assert isinstance(err, ClusterError)
    assert (err.reason, err.transient, err.exit_code) == (reason, True, 4)
    assert says in err.message
    assert "log.go" not in err.message


@pytest.mark.parametrize(
    ("stderr", "reason"),
    [
        (FORBIDDEN, "Forbidden"),
        (INVALID, "Invalid"),
        (NOT_FOUND, "NotFound"),
        (MODIFIED, "Conflict"),
        (EXISTS, "Conflict"),
        (X509, "Unreachable"),
        (NO_HOST, "Unreachable"),
        ("error: unknown flag: --frobnicate\n", "Failed"),
    ],
)
def test_answers_and_faults_that_stay_the_same_are_not_transient(stderr: str, reason: str) -> None:
    err = classify(stderr, command="kubectl get x")

    assert isinstance(err, ClusterError)
    assert (err.reason, err.transient) == (reason, False)


def test_an_object_made_meanwhile_says_so() -> None:
    err = classify(EXISTS, command="kubectl create")

    assert 'configmaps "h" already exists' in err.message
    assert "made it at the same moment" in str(err.hint)


@pytest.mark.parametrize(
    ("args", "stdin", "safe"),
    [
        (("get", "deployment.apps", "api", "-o", "json"), None, True),
        (("get", "replicaset.apps", "-l", "app=api"), None, True),
        (("rollout", "status", "deployment/api"), None, True),
        (("auth", "can-i", "patch", "deployments"), None, True),
        (("apply", "--server-side", "--field-manager=goship", "-f", "-"), "{}", True),
        (("apply", "-f", "-"), "{}", False),
        (("delete", "httproute", "api", "--ignore-not-found"), None, True),
        (("delete", "httproute", "api"), None, False),
        (("create", "-f", "-"), "{}", False),
        (("patch", "configmap", "h", "--type=merge", "-p", '{"data":{"a":"1"}}'), None, False),
        (("patch", "configmap", "h", "-p", '{"metadata":{"resourceVersion":"42"},"data":{}}'), None, True),
        (("replace", "-f", "-"), '{"metadata":{"name":"h","resourceVersion":"42"}}', True),
        (("replace", "-f", "-"), '{"metadata":{"name":"h"}}', False),
        (("scale", "deployment/api", "--replicas=3"), None, False),
        (("scale", "deployment/api", "--replicas=3", "--resource-version=42"), None, True),
        (("rollout", "undo", "deployment/api"), None, False),
        (("auth", "reconcile", "-f", "-"), "{}", False),
    ],
)
def test_only_requests_whose_repeat_changes_nothing_more_are_safe_to_repeat(
    args: tuple[str, ...], stdin: str | None, safe: bool
) -> None:
    assert safe_to_repeat(args, stdin) is safe


def test_backoff_doubles_up_to_its_cap_with_a_jittered_share() -> None:
    low, high = replace(KUBECTL_BACKOFF, draw=lambda: 0.0), replace(KUBECTL_BACKOFF, draw=lambda: 0.999999)

    assert [low.delay(n) for n in range(1, 8)] == [0.125, 0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert [round(high.delay(n), 3) for n in range(1, 8)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert replace(KUBECTL_BACKOFF, jitter=0.0, draw=lambda: 0.7).delay(3) == 1.0


class FakeClock:
    def __init__(self, *, per_call: float = 0.0) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self.per_call = per_call
        """What each kubectl run costs on this clock."""

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class FakeKubectl:
    """A kubectl that answers its n-th call from ``n.rc`` / ``n.out`` / ``n.err`` and logs its arguments."""

    SCRIPT = """#!/bin/sh
d=$(dirname "$0")
n=$(($(cat "$d/count") + 1)); echo "$n" > "$d/count"
printf '%s\\n' "$*" >> "$d/calls"
cat > /dev/null
[ -f "$d/$n.out" ] && cat "$d/$n.out"
[ -f "$d/$n.err" ] && cat "$d/$n.err" >&2
exit "$(cat "$d/$n.rc" 2>/dev/null || echo 0)"
"""

    def __init__(self, root: Path, *answers: str | tuple[int, str]) -> None:
        """Each answer: a stdout (exit 0), or (exit code, stderr)."""
        self.root = root
        root.mkdir()
        (root / "count").write_text("0")
        program = root / "kubectl"
        program.write_text(self.SCRIPT)
        program.chmod(program.stat().st_mode | stat.S_IXUSR)
        for n, answer in enumerate(answers, start=1):
            if isinstance(answer, str):
                (root / f"{n}.out").write_text(answer)
            else:
                (root / f"{n}.rc").write_text(str(answer[0]))
                (root / f"{n}.err").write_text(answer[1])

    @property
    def calls(self) -> list[str]:
        path = self.root / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def kubectl(self, clock: FakeClock, *, attempts: int = 5) -> Kubectl:
        def sleep(seconds: float) -> None:
            clock.sleep(seconds)

        def now() -> float:  # each look at the clock after a run includes the run's own time
            clock.now += clock.per_call
            return clock.now

        policy = replace(KUBECTL_BACKOFF, attempts=attempts, sleep=sleep, clock=now, draw=lambda: 0.5)
        return Kubectl(program=str(self.root / "kubectl"), namespace="x", retry=policy)


CONFIG_MAP = '{"kind": "ConfigMap", "metadata": {"name": "h", "resourceVersion": "7"}}'


def test_a_read_is_retried_through_5xx_429_and_a_dropped_connection(tmp_path: Path) -> None:
    fake = FakeKubectl(tmp_path / "k", (1, UNAVAILABLE), (1, TOO_MANY), (1, EOF), CONFIG_MAP)
    clock = FakeClock()

    found = fake.kubectl(clock).get("configmap", "h")

    assert found is not None and found["metadata"]["resourceVersion"] == "7"
    assert len(fake.calls) == 4
    assert clock.slept == [0.1875, 0.375, 0.75]  # 0.25, 0.5, 1.0 with 3/4 of each drawn


def test_a_server_side_apply_is_retried_and_a_create_is_not(tmp_path: Path) -> None:
    apply = FakeKubectl(tmp_path / "apply", (1, INTERNAL), (1, RESET), CONFIG_MAP)
    create = FakeKubectl(tmp_path / "create", (1, CREATE_EOF), CONFIG_MAP)
    clock = FakeClock()

    (stored,) = apply.kubectl(clock).apply([{"kind": "ConfigMap", "metadata": {"name": "h"}}])
    with pytest.raises(ClusterError) as refused:
        create.kubectl(clock).json("create", "-f", "-", input="{}")

    assert stored["metadata"]["name"] == "h"
    assert len(apply.calls) == 3
    assert all("apply --server-side --field-manager=goship" in call for call in apply.calls)
    assert len(create.calls) == 1
    assert refused.value.reason == "Unreachable"
    assert "(not retried: kubectl create -f - is not safe to repeat, and may have been carried out)" in (
        refused.value.message
    )


def test_a_caller_that_re_reads_after_a_conflict_may_have_its_create_retried(tmp_path: Path) -> None:
    fake = FakeKubectl(tmp_path / "k", (1, CREATE_EOF), (1, EXISTS))
    clock = FakeClock()

    with pytest.raises(ClusterError) as conflict:
        fake.kubectl(clock).json("create", "-f", "-", input="{}", repeatable=True)

    assert len(fake.calls) == 2
    assert conflict.value.reason == "Conflict"  # for the caller to re-read


@pytest.mark.parametrize("stderr", [FORBIDDEN, INVALID, MODIFIED, X509])
def test_refusals_fail_at_once(tmp_path: Path, stderr: str) -> None:
    fake = FakeKubectl(tmp_path / "k", (1, stderr), CONFIG_MAP)
    clock = FakeClock()

    with pytest.raises(ClusterError) as refused:
        fake.kubectl(clock).apply([{"kind": "ConfigMap", "metadata": {"name": "h"}}])

    assert len(fake.calls) == 1
    assert clock.slept == []
    assert refused.value.attempts == 1


def test_a_missing_object_is_none_at_once(tmp_path: Path) -> None:
    fake = FakeKubectl(tmp_path / "k", (1, NOT_FOUND))

    assert fake.kubectl(FakeClock()).get("configmap", "h") is None
    assert len(fake.calls) == 1


def test_a_fault_that_persists_gives_up_after_the_attempts_naming_the_request(tmp_path: Path) -> None:
    fake = FakeKubectl(tmp_path / "k", *[(1, UNAVAILABLE)] * 9)
    clock = FakeClock()

    with pytest.raises(ClusterError) as gave_up:
        fake.kubectl(clock).get("deployment.apps", "api")

    err = gave_up.value
    assert len(fake.calls) == 5
    assert (err.reason, err.attempts, err.transient) == ("ServerError", 5, True)
    assert err.message.startswith(
        "kubectl get deployment.apps api: the API server failed: Error from server (ServiceUnavailable)"
    )
    assert err.message.endswith("(gave up after 5 attempts in 2.8s)")
    assert clock.slept == [0.1875, 0.375, 0.75, 1.5]


def test_an_unreachable_server_names_the_request_it_gave_up_on(tmp_path: Path) -> None:
    fake = FakeKubectl(tmp_path / "k", *[(1, EOF)] * 9)

    with pytest.raises(ClusterError) as gave_up:
        fake.kubectl(FakeClock(), attempts=3).get("deployment.apps", "api")

    assert gave_up.value.message == (
        "cannot reach the Kubernetes API server: Unable to connect to the server: EOF "
        "(gave up on kubectl get deployment.apps api after 3 attempts in 0.6s)"
    )


def test_no_try_starts_past_the_time_budget(tmp_path: Path) -> None:
    fake = FakeKubectl(tmp_path / "k", *[(1, TIMEOUT)] * 9)
    clock = FakeClock(per_call=4.0)  # each try waits 4 s for the server

    with pytest.raises(ClusterError) as gave_up:
        fake.kubectl(clock).get("deployment.apps", "api")

    # tries start at 0, 4.2 and 8.6 s; a fourth would start at 13.3 s, past the 10 s budget
    assert len(fake.calls) == 3
    assert gave_up.value.attempts == 3


def test_without_check_a_failure_is_returned_untried(tmp_path: Path) -> None:
    fake = FakeKubectl(tmp_path / "k", (1, UNAVAILABLE))

    done = fake.kubectl(FakeClock()).run("get", "x", check=False)

    assert not done.ok
    assert len(fake.calls) == 1
