"""deps diff on parsed go.mod files: classification and policy, without git or go."""

from __future__ import annotations

import dataclasses

import pytest

from goship.config import DiffPolicyConfig
from goship.deps.diff import diff_module
from goship.modfile import parse

POLICY = DiffPolicyConfig()


def gomod(*requires: str, extra: str = "") -> str:
    lines = "\n".join(f"\t{r}" for r in requires)
    return f"module example.com/app\n\ngo 1.22\n\nrequire (\n{lines}\n)\n{extra}"


def changes(old: str, new: str, policy: DiffPolicyConfig = POLICY) -> list[tuple[str, str, str | None, str]]:
    d = diff_module(".", old=parse(old), new=parse(new), policy=policy)
    return [(c.path, c.kind, c.level, c.action) for c in d.requirements]


@pytest.mark.parametrize(
    ("old", "new", "level", "action"),
    [
        ("v1.2.3", "v1.2.4", "patch", "allow"),
        ("v1.2.3", "v1.3.0", "minor", "review"),
        ("v0.9.0", "v0.10.0", "minor", "review"),
        ("v1.2.3", "v1.2.4-rc.1", "patch", "allow"),
        ("v0.0.0-20240101000000-abcdefabcdef", "v0.0.0-20240202000000-abcdefabcdef", "patch", "allow"),
        ("v2.0.0+incompatible", "v3.0.0+incompatible", "major", "block"),
    ],
)
def test_upgrades_are_classified_by_how_far_they_move(old: str, new: str, level: str, action: str) -> None:
    assert changes(gomod(f"example.com/dep {old}"), gomod(f"example.com/dep {new}")) == [
        ("example.com/dep", "upgraded", level, action)
    ]


def test_a_path_move_to_v2_is_one_major_upgrade() -> None:
    d = diff_module(
        ".",
        old=parse(gomod("example.com/dep v1.4.0")),
        new=parse(gomod("example.com/dep/v2 v2.1.0")),
        policy=POLICY,
    )
    [c] = d.requirements
    assert (c.path, c.old_path, c.old, c.new, c.kind, c.level, c.action) == (
        "example.com/dep/v2",
        "example.com/dep",
        "v1.4.0",
        "v2.1.0",
        "upgraded",
        "major",
        "block",
    )
    assert c.describe() == "example.com/dep/v2 example.com/dep v1.4.0 → v2.1.0 (major upgrade)"


def test_added_removed_and_downgraded_follow_their_own_policy() -> None:
    old = gomod("example.com/a v1.0.0", "example.com/b v1.1.0")
    new = gomod("example.com/b v1.0.0", "example.com/c v0.1.0")
    assert changes(old, new) == [
        ("example.com/a", "removed", None, "allow"),
        ("example.com/b", "downgraded", "minor", "review"),
        ("example.com/c", "added", None, "review"),
    ]


def test_indirect_requirements_are_listed_and_allowed_unless_judged() -> None:
    old, new = (
        gomod("example.com/x v1.0.0 // indirect"),
        gomod("example.com/x v2.0.0+incompatible // indirect"),
    )
    assert changes(old, new) == [("example.com/x", "upgraded", "major", "allow")]
    judged = dataclasses.replace(POLICY, judge_indirect=True)
    assert changes(old, new, judged) == [("example.com/x", "upgraded", "major", "block")]


def test_allowlist_lets_a_major_through() -> None:
    allowing = dataclasses.replace(POLICY, allow=["example.com/dep*"])
    assert changes(gomod("example.com/dep v1.0.0"), gomod("example.com/dep/v2 v2.0.0"), allowing) == [
        ("example.com/dep/v2", "upgraded", "major", "allow")
    ]


def test_directives_rules_and_go_sum_lines_are_reported() -> None:
    old = parse(gomod("example.com/a v1.0.0"))
    new = parse(
        gomod(
            "example.com/a v1.0.0",
            extra="\ntoolchain go1.23.4\n\nreplace example.com/a => example.com/fork v1.0.1\n",
        )
    )
    d = diff_module(".", old=old, new=new, policy=POLICY)
    assert [(x.directive, x.old, x.new) for x in d.directives] == [("toolchain", None, "go1.23.4")]
    assert [(r.directive, r.change, r.text) for r in d.rules] == [
        ("replace", "added", "example.com/a => example.com/fork v1.0.1")
    ]
    same = diff_module(
        ".",
        old=old,
        new=old,
        old_sum="a v1 h1:x=\n",
        new_sum="a v1 h1:x=\nb v2/go.mod h1:y=\n",
        policy=POLICY,
    )
    assert same.sum_added_without_mod_change == ("b v2/go.mod h1:y=",)
    assert same.action == "review"


def test_modules_that_appear_or_vanish() -> None:
    assert diff_module("tools", old=None, new=parse(gomod()), policy=POLICY).status == "added"
    assert diff_module("tools", old=parse(gomod()), new=None, policy=POLICY).status == "removed"
    assert diff_module(".", old=parse(gomod()), new=parse(gomod()), policy=POLICY).status == "unchanged"
