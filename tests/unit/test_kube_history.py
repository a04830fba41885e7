"""goship's deploy history: what it keeps, what counts as known-good, how an undecided deploy is settled,
and the revisions read from a Deployment's ReplicaSets."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import Any

from goship.kube.history import (
    DeployHistory,
    DeployRecord,
    State,
    merge,
    parse_records,
    previous_template,
    prune,
    revisions,
)
from goship.kube.kubectl import Kubectl


def record(id: int, state: State, version: str = "", digest: str = "") -> DeployRecord:
    return DeployRecord(
        id=id,
        action="deploy",
        version=version or f"v1.{id}.0",
        digest=digest or f"sha256:{id:064d}",
        commit=f"{id:040d}",
        image=f"registry.example.com/team/api@sha256:{id:064d}",
        time="2026-11-28T12:00:00Z",
        state=state,
        deployment={"kind": "Deployment", "spec": {"template": {"id": id}}},
    )


def history(*records: DeployRecord) -> DeployHistory:
    h = DeployHistory(Kubectl(program="/nonexistent/kubectl"), "api", limit=20)
    h.records = list(records)
    return h


def test_the_known_good_record_is_the_newest_complete_one() -> None:
    h = history(record(1, "complete"), record(2, "complete"), record(3, "undone"), record(4, "failed"))

    assert h.known_good() == h.records[1]
    assert h.known_good(excluding_digest=h.records[1].digest) == h.records[0]


def test_a_rollback_target_is_found_by_version_or_digest_but_only_when_it_completed() -> None:
    h = history(record(1, "complete", version="v1.0.0"), record(2, "failed", version="v2.0.0"))

    assert h.find("v1.0.0") == h.records[0]
    assert h.find(h.records[0].digest) == h.records[0]
    assert h.find("v2.0.0") is None


def test_pruning_keeps_the_newest_and_never_drops_the_last_known_good() -> None:
    records = [record(1, "complete"), *(record(i, "undone") for i in range(2, 8))]

    kept = prune(records, 3)

    assert [r.id for r in kept] == [1, 5, 6, 7]
    assert [r.id for r in prune([record(1, "complete"), record(2, "complete")], 1)] == [2]


def test_records_written_by_a_newer_goship_are_read_as_far_as_they_go() -> None:
    newer = {**asdict(record(1, "complete")), "canary": {"weight": 5}}
    text = json.dumps([newer, {"id": "broken"}, "junk"])

    parsed = parse_records(text)

    assert [r.id for r in parsed] == [1]
    assert parse_records("{not json") == []


def live(digest: str, status: dict[str, Any], generation: int = 3) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "api",
            "generation": generation,
            "annotations": {"goship.dev/digest": digest, "deployment.kubernetes.io/revision": "5"},
        },
        "spec": {"replicas": 2},
        "status": {"observedGeneration": generation, **status},
    }


DONE = {"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
STALLED = {
    "replicas": 3,
    "updatedReplicas": 1,
    "availableReplicas": 2,
    "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
}


def test_an_unwatched_deploy_that_rolled_out_is_settled_as_complete() -> None:
    h = history(record(1, "complete"), record(2, "applied"))

    h.settle(live(h.records[1].digest, DONE))

    assert (h.records[1].state, h.records[1].revision) == ("complete", 5)
    assert h.known_good() == h.records[1]


def test_an_unwatched_deploy_whose_rollout_failed_is_settled_as_failed() -> None:
    h = history(record(1, "complete"), record(2, "progressing"))

    h.settle(live(h.records[1].digest, STALLED))

    assert h.records[1].state == "failed"
    assert h.records[1].reason == 'deployment "api" exceeded its progress deadline'


def test_settling_leaves_a_deploy_alone_when_the_cluster_runs_something_else_or_is_still_rolling() -> None:
    h = history(record(1, "applied"))

    h.settle(live("sha256:other", DONE))
    h.settle(live(h.records[0].digest, {"replicas": 3, "updatedReplicas": 1}))
    h.settle(None)

    assert h.records[0].state == "applied"


def replica_set(revision: str, owner: str, *, version: str, replicas: int, ready: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"api-{revision}",
            "creationTimestamp": f"2026-11-28T12:0{revision}:00Z",
            "annotations": {
                "deployment.kubernetes.io/revision": revision,
                "kubernetes.io/change-cause": f"goship deploy {version}",
            },
            "ownerReferences": [{"kind": "Deployment", "name": "api", "uid": owner}],
        },
        "spec": {
            "template": {
                "metadata": {
                    "annotations": {
                        "goship.dev/version": version,
                        "goship.dev/digest": f"sha256:{version}",
                        "goship.dev/commit": "c" * 40,
                    }
                },
                "spec": {"containers": [{"image": f"registry.example.com/team/api@sha256:{version}"}]},
            }
        },
        "status": {"replicas": replicas, "readyReplicas": ready},
    }


def test_revisions_are_the_deployments_own_replica_sets_oldest_first_with_the_running_one_marked() -> None:
    deployment = {"metadata": {"uid": "u1", "annotations": {"deployment.kubernetes.io/revision": "3"}}}
    sets = [
        replica_set("3", "u1", version="v3", replicas=2, ready=2),
        replica_set("1", "u1", version="v1", replicas=0, ready=0),
        replica_set("2", "someone-else", version="v2", replicas=1, ready=1),
    ]

    found = revisions(deployment, sets)

    assert [(r.revision, r.version, r.current) for r in found] == [(1, "v1", False), (3, "v3", True)]
    assert found[1].ready == 2
    assert found[1].change_cause == "goship deploy v3"
    assert found[1].image.endswith("@sha256:v3")


def test_the_previous_template_is_the_newest_older_revision_without_its_hash_label() -> None:
    deployment = {"metadata": {"uid": "u1", "annotations": {"deployment.kubernetes.io/revision": "3"}}}
    sets = [replica_set(r, "u1", version=f"v{r}", replicas=0, ready=0) for r in ("1", "2", "3")]
    sets.append(replica_set("2", "someone-else", version="v9", replicas=0, ready=0))
    sets[1]["spec"]["template"]["metadata"]["labels"] = {"app": "api", "pod-template-hash": "5bb67ffb4d"}

    template = previous_template(deployment, sets)

    assert template is not None
    assert template["metadata"]["annotations"]["goship.dev/version"] == "v2"
    assert template["metadata"]["labels"] == {"app": "api"}
    assert sets[1]["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == "5bb67ffb4d"  # a copy
    assert previous_template(deployment, sets[2:3]) is None
    assert previous_template(None, sets) is None


def test_a_record_whose_write_landed_before_its_answer_was_lost_is_not_added_again() -> None:
    base = [record(1, "complete")]
    mine = [*base, record(2, "progressing")]

    merged = merge(base, mine, mine, own={2})

    assert merged.records == mine
    assert merged.renamed == {}


def test_a_landed_record_another_run_settled_meanwhile_is_kept_as_settled_not_doubled() -> None:
    base = [record(1, "complete")]
    mine = [*base, record(2, "progressing")]
    theirs = [*base, replace(record(2, "progressing"), state="complete", revision=2)]

    merged = merge(base, mine, theirs, own={2})

    assert merged.records == theirs


def test_two_deploys_at_once_keep_both_records_the_later_one_renumbered() -> None:
    base = [record(1, "complete")]
    mine = [*base, record(2, "progressing", version="v2.0.0")]
    theirs = [*base, record(2, "progressing", version="v3.0.0")]

    merged = merge(base, mine, theirs, own={2})

    assert [(r.id, r.version) for r in merged.records] == [(1, "v1.1.0"), (2, "v3.0.0"), (3, "v2.0.0")]
    assert merged.renamed == {2: 3}


def test_a_runs_own_outcome_wins_and_its_settling_of_anothers_record_yields() -> None:
    base = [record(1, "progressing"), record(2, "progressing")]
    mine = [replace(base[0], state="failed"), replace(base[1], state="complete")]
    theirs = [replace(base[0], state="complete"), replace(base[1], state="undone"), record(3, "progressing")]

    merged = merge(base, mine, theirs, own={2})

    assert [(r.id, r.state) for r in merged.records] == [(1, "complete"), (2, "complete"), (3, "progressing")]


def test_a_change_to_a_record_nobody_else_touched_is_kept() -> None:
    base = [record(1, "applied")]
    mine = [replace(base[0], state="complete")]

    assert merge(base, mine, [*base, record(2, "progressing")], own=set()).records == [
        mine[0],
        record(2, "progressing"),
    ]
