"""goship.semver agrees with golang.org/x/mod, asked through tests/oracle/semver, on generated input."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from goship import semver

pytestmark = pytest.mark.integration

ORACLE_DIR = Path(__file__).resolve().parents[1] / "oracle" / "semver"
SEED = 20240611
YEAR0 = "<year 0000: Go accepts it, datetime cannot hold it>"

Answer = dict[str, Any]


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Callable[[list[list[Any]]], list[Answer]]:
    """Builds the Go oracle once; the returned function asks it a batch of questions."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("the Go toolchain is needed for the semver oracle, but 'go' is not on PATH")
    binary = tmp_path_factory.mktemp("oracle") / "semveroracle"
    built = subprocess.run(
        [go, "build", "-o", str(binary), "."], cwd=ORACLE_DIR, capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, f"go build of the oracle failed:\n{built.stderr}"

    def ask(questions: list[list[Any]]) -> list[Answer]:
        stdin = "".join(json.dumps(q) + "\n" for q in questions)
        done = subprocess.run([str(binary)], input=stdin, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"oracle failed:\n{done.stderr}"
        answers = [json.loads(line) for line in done.stdout.splitlines()]
        assert len(answers) == len(questions)
        return answers

    return ask


# --- generated input ----------------------------------------------------------------------------------

NUMBERS = ["0", "1", "2", "3", "9", "10", "11", "19", "2", "100", "01", "00", "007", "9" * 25, "1" + "0" * 40]
IDENTS = [
    "alpha",
    "beta",
    "rc",
    "0",
    "1",
    "2",
    "11",
    "01",
    "00",
    "-",
    "--",
    "x-y",
    "0a",
    "a0",
    "Z",
    "pre",
    "",
]
BUILDS = ["meta", "incompatible", "001", "sha.256a", "", "x-y", "-"]
JUNK = [*"v0123456789.-+aZV _/\n\t\x00\x7f", "é", "日本", "🙂", "\u00ad", "\u200b", '"', "\\"]


def _number(rng: random.Random) -> str:
    return rng.choice(NUMBERS) if rng.random() < 0.3 else str(rng.randrange(4))


def _dotted(rng: random.Random, pool: list[str], most: int) -> str:
    return ".".join(rng.choice(pool) for _ in range(rng.randint(1, most)))


def _timestamp(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.6:
        year = rng.choice([2006, 2019, 2024, 1, 0, 9999, 2000, 1900])
        fields = [
            rng.randint(1, 12),
            rng.randint(1, 31),
            rng.randint(0, 23),
            rng.randint(0, 59),
            rng.randint(0, 59),
        ]
        stamp = f"{year:04d}" + "".join(f"{n:02d}" for n in fields)
    elif roll < 0.85:  # one field just past its range, or a leap day in a leap or common year
        stamp = rng.choice(["2019", "2024", "2000", "1900", "0000"])
        stamp += rng.choice(["0115", "1301", "0001", "0100", "0132", "0229", "0230", "0431", "1231"])
        stamp += rng.choice(["000000", "235959", "240000", "006000", "000060"])
    else:
        stamp = "".join(rng.choice("0123456789") for _ in range(14))
    if rng.random() < 0.03:  # a wrong length
        stamp = stamp[:-1] if rng.random() < 0.5 else stamp + "0"
    return stamp


def _pseudo(rng: random.Random) -> str:
    rev = rng.choice(["abcdef123456", "abcdef123456", "hash", "0", "ABC", "ab-cd", "ab_cd", ""])
    head = f"v{_number(rng)}"
    form = rng.randrange(3)
    if form == 0:
        v = f"{head}.{rng.choice(['0.0', '0.0', '1.0', '0.1'])}-{_timestamp(rng)}-{rev}"
    elif form == 1:
        v = f"{head}.{_number(rng)}.{_number(rng)}-0.{_timestamp(rng)}-{rev}"
    else:
        v = f"{head}.{_number(rng)}.{_number(rng)}-{_dotted(rng, IDENTS, 3)}.0.{_timestamp(rng)}-{rev}"
    if rng.random() < 0.3:
        v += "+" + rng.choice(["incompatible", "incompatible", "meta", "a.b", ""])
    return v


def _version(rng: random.Random) -> str:
    parts = rng.randint(1, 3) if rng.random() < 0.3 else 3
    v = "v" + ".".join(_number(rng) for _ in range(parts))
    if rng.random() < 0.4:
        v += "-" + _dotted(rng, IDENTS, 4)
    if rng.random() < 0.25:
        v += "+" + _dotted(rng, BUILDS, 3)
    return v


def _mutate(rng: random.Random, s: str) -> str:
    chars = list(s)
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(0, len(chars))
        action = rng.randrange(3)
        if action == 0 and at < len(chars):
            del chars[at]
        elif action == 1 and at < len(chars):
            chars[at] = rng.choice(JUNK)
        else:
            chars.insert(at, rng.choice(JUNK))
    return "".join(chars)


def generate_versions(rng: random.Random, count: int) -> list[str]:
    fixed = [
        "",
        "v",
        "V1.0.0",
        "1.0.0",
        "v1.0.0\n",
        " v1.0.0",
        "v1.0.0 ",
        "v1.",
        "v1..0",
        "v1.0.0-",
        "v1.0.0+",
    ]
    out = list(fixed)
    while len(out) < count:
        kind = rng.random()
        if kind < 0.35:
            s = _version(rng)
        elif kind < 0.85:
            s = _pseudo(rng)
        else:
            s = _mutate(rng, _pseudo(rng) if rng.random() < 0.5 else _version(rng))
        out.append(s)
    return out


def _near(rng: random.Random, v: str) -> str:
    """A version close to ``v`` in precedence: same core, other prerelease or build."""
    core = v.split("-", 1)[0].split("+", 1)[0]
    roll = rng.random()
    if roll < 0.3:
        return core + "-" + _dotted(rng, IDENTS, 4)
    if roll < 0.5:
        return v + "+" + _dotted(rng, BUILDS, 2)
    if roll < 0.6:
        return core
    return _version(rng)


def generate_paths(rng: random.Random, count: int) -> list[str]:
    fixed = ["", "/v2", "v2", "x/v2", "gopkg.in/", "gopkg.in/v2", "gopkg.in/.v2", "gopkg.in/x.v-unstable"]
    bases = ["example.com/mod", "x.y/z", "x.y/v", "rsc.io/quote", "gopkg.in/yaml", "gopkg.in/check", "a"]
    suffixes = ["", "/v0", "/v1", "/v2", "/v3", "/v10", "/v02", "/v2.0", "/v", "/v1.5", ".v0", ".v1", ".v2"]
    suffixes += [".v10", ".v01", ".v", ".v0-unstable", ".v1-unstable", ".v2-unstable", "-unstable", "v2"]
    out = list(fixed)
    while len(out) < count:
        p = rng.choice(bases) + rng.choice(suffixes)
        if rng.random() < 0.15:
            p = _mutate(rng, p)
        out.append(p)
    return out


PATH_MAJORS = ["", "/v2", "/v3", "/v10", ".v0", ".v1", ".v2", ".v1-unstable", ".v0-unstable", "/v1", "/v0"]
PATH_MAJORS += ["v2", ".v", "/v", "x", "-unstable", ".v2-unstable", "/v2-unstable"]


# --- Python's answers, in the oracle's shape ---------------------------------------------------------------


def _attempt(fn: Callable[[str], str], v: str) -> tuple[str, str]:
    try:
        return fn(v), ""
    except semver.InvalidVersionError as exc:
        return "", str(exc)


def _time(v: str) -> str:
    t = semver.pseudo_version_time(v)
    return f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}"


def python_facts(v: str) -> Answer:
    base, base_err = _attempt(semver.pseudo_version_base, v)
    rev, rev_err = _attempt(semver.pseudo_version_rev, v)
    time, time_err = _attempt(_time, v)
    if time_err.endswith("which Python's datetime cannot hold"):
        time, time_err = YEAR0, ""
    return {
        "is_valid": semver.is_valid(v),
        "canonical": semver.canonical(v),
        "major": semver.major(v),
        "major_minor": semver.major_minor(v),
        "prerelease": semver.prerelease(v),
        "build": semver.build(v),
        "is_pseudo": semver.is_pseudo_version(v),
        "base": base,
        "base_err": base_err,
        "rev": rev,
        "rev_err": rev_err,
        "time": time,
        "time_err": time_err,
    }


def go_facts(answer: Answer) -> Answer:
    if answer["time"].startswith("0000"):
        answer = {**answer, "time": YEAR0}
    return answer


def python_path(path: str) -> Answer:
    prefix, path_major, ok = semver.split_path_version(path)
    out: Answer = {"prefix": prefix, "path_major": path_major, "ok": ok}
    if ok and path_major:
        try:
            out["major_prefix"], out["major_prefix_panics"] = semver.path_major_prefix(path_major), False
        except ValueError:
            out["major_prefix"], out["major_prefix_panics"] = "", True
    return out


def python_path_major(v: str, path_major: str) -> Answer:
    try:
        semver.check_path_major(v, path_major)
        err = ""
    except semver.InvalidVersionError as exc:
        err = str(exc)
    return {"match": semver.match_path_major(v, path_major), "err": err}


def _disagreements(questions: list[list[Any]], got: Iterator[Answer], want: list[Answer]) -> list[str]:
    return [
        f"{q!r}\n    python: {g}\n    go:     {w}"
        for q, g, w in zip(questions, got, want, strict=True)
        if g != w
    ]


def _assert_all_agree(
    what: str, questions: list[list[Any]], got: Iterator[Answer], want: list[Answer]
) -> None:
    bad = _disagreements(questions, got, want)
    print(f"semver oracle: {what}: {len(questions) - len(bad)}/{len(questions)} agree")
    assert not bad, f"{len(bad)} of {len(questions)} {what} disagree with Go; first ones:\n" + "\n".join(
        bad[:15]
    )


# --- the comparisons -----------------------------------------------------------------------------------


def test_every_version_function_agrees_with_go(oracle: Callable[[list[list[Any]]], list[Answer]]) -> None:
    versions = generate_versions(random.Random(SEED), 5000)
    questions = [["v", v] for v in versions]
    want = [go_facts(a) for a in oracle(questions)]
    _assert_all_agree("versions", questions, (python_facts(v) for v in versions), want)
    # The generator must really reach every branch, or agreement proves little.
    assert sum(a["is_valid"] for a in want) > 1500
    pseudo = [a for a in want if a["is_pseudo"]]
    assert len(pseudo) > 700
    assert sum(a["base"] == "" and not a["base_err"] for a in pseudo) > 50  # vX.0.0- form
    assert sum(a["base"].endswith("+incompatible") for a in pseudo) > 30
    assert sum(a["base_err"] != "" for a in pseudo) > 30
    assert sum(a["time_err"] != "" for a in pseudo) > 30
    assert sum(a["time"] == YEAR0 for a in pseudo) > 5


def test_parse_pseudo_version_agrees_with_gos_base_rev_and_time(
    oracle: Callable[[list[list[Any]]], list[Answer]],
) -> None:
    versions = generate_versions(random.Random(SEED + 1), 3000)
    answers = oracle([["v", v] for v in versions])
    bad = []
    for v, a in zip(versions, answers, strict=True):
        want: object = None
        if a["is_pseudo"] and not a["base_err"] and not a["time_err"]:
            want = semver.PseudoVersion(
                base=a["base"], timestamp=a["time"], revision=a["rev"], build=a["build"]
            )
        try:
            got: object = semver.parse_pseudo_version(v)
        except semver.InvalidVersionError:
            got = None
        if got != want:
            bad.append(f"{v!r}: python {got}, go {want}")
    assert not bad, "\n".join(bad[:15])


def test_compare_and_max_agree_with_go_on_pairs(oracle: Callable[[list[list[Any]]], list[Answer]]) -> None:
    rng = random.Random(SEED + 2)
    pool = generate_versions(rng, 1500)
    pairs = []
    for _ in range(5000):
        v = rng.choice(pool)
        w = _near(rng, v) if rng.random() < 0.6 else rng.choice(pool)
        pairs.append((w, v) if rng.random() < 0.5 else (v, w))
    questions = [["cmp", v, w] for v, w in pairs]
    want = oracle(questions)
    got = ({"compare": semver.compare(v, w), "max": semver.max(v, w)} for v, w in pairs)
    _assert_all_agree("pairs", questions, got, want)
    assert sum(a["compare"] == 0 for a in want) > 300


def test_sort_agrees_with_go(oracle: Callable[[list[list[Any]]], list[Answer]]) -> None:
    rng = random.Random(SEED + 3)
    pool = generate_versions(rng, 600)
    lists = []
    for _ in range(100):
        some = rng.sample(pool, 25)
        lists.append(some + [_near(rng, v) for v in some[:10]])
    questions: list[list[Any]] = [["sort", items] for items in lists]
    _assert_all_agree(
        "sorted lists", questions, ({"sorted": semver.sort(xs)} for xs in lists), oracle(questions)
    )


def test_split_path_version_agrees_with_go(oracle: Callable[[list[list[Any]]], list[Answer]]) -> None:
    paths = generate_paths(random.Random(SEED + 4), 2000)
    questions = [["path", p] for p in paths]
    _assert_all_agree("paths", questions, (python_path(p) for p in paths), oracle(questions))


def test_check_path_major_agrees_with_go(oracle: Callable[[list[list[Any]]], list[Answer]]) -> None:
    rng = random.Random(SEED + 5)
    versions = [*generate_versions(rng, 1500), "v0.0.0-20160102150405-abcdef123456", "v17.0.0+incompatible"]
    pairs = [(rng.choice(versions), rng.choice(PATH_MAJORS)) for _ in range(4000)]
    questions = [["pm", v, pm] for v, pm in pairs]
    got = (python_path_major(v, pm) for v, pm in pairs)
    _assert_all_agree("version/path-major pairs", questions, got, oracle(questions))
