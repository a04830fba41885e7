"""The local runtime's pure parts: router weights from ready endpoints, and the state file as other shells
see it (atomic writes, a dead or recycled daemon pid is stale)."""

from __future__ import annotations

import os
from pathlib import Path

from goship.local.control import (
    LAST_STATE_FILE,
    STATE_FILE,
    clean_stale,
    find_runtime,
    pid_alive,
    read_state,
    runtime_dir,
    write_state,
)
from goship.local.routing import weights_for


def test_weights_follow_ready_endpoint_counts_and_sum_to_100() -> None:
    weights = weights_for({"v1": ["a", "b"], "v2": ["c"]}, fallback="v1")
    assert weights == {"v1": 67, "v2": 33}
    thirds = weights_for({"a": ["1"], "b": ["2"], "c": ["3"]}, fallback=None)
    assert sum(thirds.values()) == 100


def test_without_ready_endpoints_everything_goes_to_the_fallback_or_nowhere() -> None:
    assert weights_for({"v1": []}, fallback="v1") == {"v1": 100}
    assert weights_for({}, fallback=None) == {}


def test_the_runtime_lives_beside_the_store_one_directory_per_service(tmp_path: Path) -> None:
    assert runtime_dir(tmp_path / "store", "orders") == tmp_path / "runtime" / "orders"


def test_state_is_written_whole_and_only_its_owner_can_read_it(tmp_path: Path) -> None:
    write_state(tmp_path, {"pid": 1, "token": "secret"})
    write_state(tmp_path, {"pid": 2, "token": "secret"})
    assert read_state(tmp_path) == {"pid": 2, "token": "secret"}
    assert (tmp_path / STATE_FILE).stat().st_mode & 0o077 == 0
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]  # no temporary file left behind


def test_no_state_file_means_no_runtime(tmp_path: Path) -> None:
    assert read_state(tmp_path) is None
    assert find_runtime(tmp_path) is None


def test_a_pid_running_another_program_is_not_the_daemon() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(os.getpid(), cmdline_has="goship.local.daemon --no-such-thing")
    assert not pid_alive(0) and not pid_alive(None)


def test_a_stale_state_is_moved_aside_without_touching_processes_of_other_programs(tmp_path: Path) -> None:
    # This test process stands in for a leftover replica: its command line is not the recorded program.
    write_state(
        tmp_path,
        {"pid": os.getpid(), "replicas": [{"pid": os.getpid(), "program": "/no/such/replica-binary"}]},
    )
    runtime = find_runtime(tmp_path)
    assert runtime is not None and not runtime.alive
    assert clean_stale(runtime) == []
    assert not (tmp_path / STATE_FILE).exists() and (tmp_path / LAST_STATE_FILE).exists()
