"""goship's own command-line layer: options from signatures, errors that say what was expected, plain help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goship import __version__
from goship.cli import build_app, main
from goship.cli._app import App, Parameter
from goship.errors import UsageError

Json = Annotated[bool, Parameter(negative=())]
RECEIVED: list[dict[str, Any]] = []


def sample(
    target: Path = Path("go.mod"),
    /,
    *,
    from_: Annotated[str, Parameter(name="--from")],
    module: Annotated[list[str] | None, Parameter(name=["--module", "-m"], negative=())] = None,
    strategy: Literal["rolling", "canary"] = "rolling",
    rps: float = 200.0,
    replicas: int = 3,
    store: Path | None = None,
    cache: bool = True,
    sign: Annotated[bool | None, Parameter(negative="--no-sign")] = None,
    dry_run: Annotated[bool, Parameter(negative=())] = False,
    json: Json = False,
) -> int:
    """Rehearse a sample upgrade under load.

    Exit 1 when the sample says so.

    Parameters
    ----------
    target
        The go.mod file to read.
    from_
        The version running now.
    module
        Only this module; repeatable.
    strategy
        rolling or canary.
    rps
        Requests per second.
    replicas
        Replicas of each version.
    store
        The local image layout.
    cache
        Reuse what was built before.
    sign
        Sign the tags; default from goship.yaml.
    dry_run
        Say what would happen, do nothing.
    json
        Print one JSON document:
        {"verdict", "requests"}.

    Example: goship sample --from v1.3.0 --rps 300
    """
    RECEIVED.append(dict(locals()))
    return 7


def undo(*, to_revision: int | None = None) -> int:
    """Roll back to an earlier revision."""
    RECEIVED.append({"undo": to_revision})
    return 0


def rollout(*, to: str = "HEAD") -> int:
    """Roll out to another version."""
    RECEIVED.append({"rollout": to})
    return 0


def sample_app() -> App:
    app = App("goship", help="A sample goship.", version="9.9.9")
    app.command(sample)
    group = App("rollout", help="Roll out; 'undo' rolls back.")
    group.default(rollout)
    group.command(undo, name="undo")
    app.command(group, name="rollout")
    app.command("no.such.module:command", name="lazy", help="Imported only when it runs.")
    return app


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    RECEIVED.clear()
    monkeypatch.setenv("COLUMNS", "100")


def call(*argv: str) -> dict[str, Any]:
    """Run the sample command with ``--from v1`` and what it received."""
    assert sample_app()(["sample", "--from", "v1", *argv]) == 7
    return RECEIVED[-1]


def refused(*argv: str) -> UsageError:
    with pytest.raises(UsageError) as caught:
        sample_app()(list(argv))
    return caught.value


def goship(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out = capsys.readouterr()
    code = exited.value.code
    assert isinstance(code, int)
    return code, out.out, out.err


# Parsing


def test_options_convert_to_their_annotated_types() -> None:
    got = call("--rps", "2.5", "--replicas", "4", "--store", "/tmp/s", "--strategy", "canary")
    assert got["from_"] == "v1"
    assert got["rps"] == 2.5
    assert got["replicas"] == 4 and isinstance(got["replicas"], int)
    assert got["store"] == Path("/tmp/s")
    assert got["strategy"] == "canary"


def test_absent_options_keep_the_function_defaults() -> None:
    got = call()
    assert got["target"] == Path("go.mod")
    assert (got["module"], got["strategy"], got["rps"], got["replicas"]) == (None, "rolling", 200.0, 3)
    assert (got["store"], got["cache"], got["sign"]) == (None, True, None)
    assert (got["dry_run"], got["json"]) == (False, False)


def test_values_come_after_a_space_or_an_equals_sign_and_short_names_work_too() -> None:
    assert call("--replicas=5")["replicas"] == 5
    assert call("-m", "a")["module"] == ["a"]
    assert call("-m=b")["module"] == ["b"]
    assert call("--strategy=canary")["strategy"] == "canary"


def test_underscores_become_dashes_and_a_trailing_underscore_is_dropped() -> None:
    assert call("--dry-run")["dry_run"] is True
    assert sample_app()(["sample", "--from=v2"]) == 7
    assert RECEIVED[-1]["from_"] == "v2"


def test_a_bool_flag_sets_true_and_its_negative_false() -> None:
    assert call("--cache")["cache"] is True
    assert call("--no-cache")["cache"] is False
    assert call("--cache=false")["cache"] is False
    assert call("--json")["json"] is True


def test_an_optional_bool_stays_none_unless_given_with_its_named_negative() -> None:
    assert call()["sign"] is None
    assert call("--sign")["sign"] is True
    assert call("--no-sign")["sign"] is False


def test_a_flag_without_negatives_refuses_its_no_form_and_suggests_the_flag() -> None:
    err = refused("sample", "--from", "v1", "--no-json")
    assert err.message == "goship sample: unknown option '--no-json'; did you mean '--json'?"
    assert err.exit_code == 2


def test_a_list_option_is_repeatable_in_every_spelling() -> None:
    assert call("--module", "a", "-m", "b", "--module=c")["module"] == ["a", "b", "c"]


def test_a_negative_number_is_a_value_not_an_option() -> None:
    assert call("--replicas", "-2")["replicas"] == -2


def test_positional_parameters_take_the_plain_words_in_order() -> None:
    assert call("other/go.mod")["target"] == Path("other/go.mod")
    assert sample_app()(["sample", "x.mod", "--from", "v1"]) == 7
    assert RECEIVED[-1]["target"] == Path("x.mod")


def test_double_dash_ends_the_options() -> None:
    assert call("--", "--json")["target"] == Path("--json")


def test_a_literal_refuses_other_values_and_names_the_choices() -> None:
    err = refused("sample", "--from", "v1", "--strategy", "blue")
    assert err.message == "goship sample: --strategy expects 'rolling' or 'canary' (not 'blue')"
    assert err.hint is not None and "goship sample --help" in err.hint


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--replicas", "1.5"], "--replicas expects a whole number (not '1.5')"),
        (["--rps", "abc"], "--rps expects a number (not 'abc')"),
        (["--rps", "nan"], "--rps expects a number (not 'nan')"),
        (["--cache=maybe"], "--cache expects true or false (not 'maybe')"),
    ],
)
def test_a_bad_value_says_what_was_expected_and_found(argv: list[str], message: str) -> None:
    assert refused("sample", "--from", "v1", *argv).message == f"goship sample: {message}"


def test_a_missing_required_option_names_it_and_shows_the_example() -> None:
    err = refused("sample")
    assert err.message == "goship sample: missing --from TEXT, which is required"
    assert err.hint == "see 'goship sample --help'; e.g. goship sample --from v1.3.0 --rps 300"


def test_an_option_without_its_value_says_what_came_instead() -> None:
    assert refused("sample", "--from").message == "goship sample: --from expects a value (found nothing)"
    assert (
        refused("sample", "--from", "--json").message
        == "goship sample: --from expects a value (found the option '--json')"
    )


def test_an_unknown_option_suggests_the_closest_one() -> None:
    err = refused("sample", "--from", "v1", "--replica", "2")
    assert err.message == "goship sample: unknown option '--replica'; did you mean '--replicas'?"
    assert err.hint == "see 'goship sample --help'"
    assert refused("sample", "--frobnicate").message == "goship sample: unknown option '--frobnicate'"


def test_an_option_given_twice_is_refused_unless_repeatable() -> None:
    assert refused("sample", "--from", "v1", "--json", "--json").message == (
        "goship sample: --json given twice; expected it once"
    )
    assert refused("sample", "--from", "v1", "--cache", "--no-cache").message == (
        "goship sample: --no-cache given after --cache; expected one of them"
    )


def test_an_extra_word_is_refused_with_what_the_command_takes() -> None:
    err = refused("sample", "a.mod", "b.mod", "--from", "v1")
    assert err.message == "goship sample: unexpected argument 'b.mod' (it takes TARGET)"
    assert refused("rollout", "undo", "x").message == (
        "goship rollout undo: unexpected argument 'x' (it takes options only)"
    )


def test_an_unknown_command_lists_the_commands_and_suggests_the_closest() -> None:
    err = refused("sampel")
    assert err.message == (
        "goship: unknown command 'sampel' (expected 'sample', 'rollout' or 'lazy'); did you mean 'sample'?"
    )
    assert err.hint == "see 'goship --help'"
    assert refused("rollout", "udno").message == (
        "goship rollout: unknown command 'udno' (expected 'undo'); did you mean 'undo'?"
    )


def test_a_group_runs_its_default_command_or_the_named_one() -> None:
    app = sample_app()
    assert app(["rollout"]) == 0 and RECEIVED[-1] == {"rollout": "HEAD"}
    assert app(["rollout", "--to", "v2"]) == 0 and RECEIVED[-1] == {"rollout": "v2"}
    assert app(["rollout", "undo", "--to-revision", "3"]) == 0 and RECEIVED[-1] == {"undo": 3}


def test_a_command_named_by_string_is_imported_only_when_it_runs(capsys: pytest.CaptureFixture[str]) -> None:
    app = sample_app()
    assert app(["--help"]) == 0
    assert "\n  lazy     Imported only when it runs.\n" in capsys.readouterr().out
    with pytest.raises(ModuleNotFoundError, match="No module named 'no'"):
        app(["lazy"])


@given(st.lists(st.text(min_size=1).filter(lambda v: not v.startswith("-")), max_size=5))
def test_every_value_of_a_repeated_option_arrives_in_order(values: list[str]) -> None:
    argv = [token for v in values for token in ("--module", v)]
    assert call(*argv)["module"] == (values or None)


@given(st.text())
def test_any_text_after_an_equals_sign_is_the_value(value: str) -> None:
    assert call(f"--store={value}")["store"] == Path(value)


# Help


def test_command_help_shows_usage_text_each_option_and_the_example_last(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert sample_app()(["sample", "--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    text = "\n".join(lines)
    assert lines[0] == "Usage: goship sample [OPTIONS] [TARGET]"
    assert "Rehearse a sample upgrade under load.\n\nExit 1 when the sample says so." in text
    assert "Arguments:\n  TARGET  The go.mod file to read. [default: go.mod]" in text
    for row in (
        "--from TEXT",
        "The version running now. [required]",
        "-m, --module TEXT",
        "Only this module; repeatable.",
        "--strategy rolling|canary",
        "rolling or canary. [default: rolling]",
        "--rps NUMBER",
        "Requests per second. [default: 200]",
        "--replicas INT",
        "--store PATH",
        "--cache, --no-cache",
        "Reuse what was built before. [default: --cache]",
        "--sign, --no-sign",
        "--dry-run ",
        'Print one JSON document: {"verdict", "requests"}.',
        "-h, --help",
    ):
        assert row in text, row
    assert "--no-json" not in text and "--no-dry-run" not in text
    assert "Parameters" not in text and "----------" not in text
    assert lines[-1] == "Example: goship sample --from v1.3.0 --rps 300"
    assert max(len(line) for line in lines) <= 100


def test_help_wins_over_everything_else_on_the_line_and_runs_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert sample_app()(["sample", "--strategy", "blue", "-h"]) == 0
    assert capsys.readouterr().out.startswith("Usage: goship sample")
    assert RECEIVED == []


def test_a_group_with_a_default_shows_its_commands_and_the_default_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert sample_app()(["rollout", "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Usage: goship rollout [COMMAND] [OPTIONS]\n\nRoll out; 'undo' rolls back.")
    assert "Commands:\n  undo  Roll back to an earlier revision." in text
    assert "--to TEXT" in text and "[default: HEAD]" in text


def test_goship_help_lists_every_command_with_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = goship(capsys, "--help")
    assert code == 0
    assert out.startswith("Usage: goship COMMAND\n\ngoship takes a Go microservice")
    assert "Exit codes: 0 ok" in out
    for name, line in build_app()._listing():
        assert f"\n  {name.ljust(9)}  {line[:40]}" in out
    assert "--version" in out


def test_goship_without_a_command_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = goship(capsys)
    assert code == 0
    assert "Commands:" in out


def test_goship_version_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert goship(capsys, "--version") == (0, f"{__version__}\n", "")


def all_commands() -> list[list[str]]:
    names = [name for name, _ in build_app()._listing()]
    groups = {"deps": ["check", "diff", "parse"], "config": ["schema", "show"], "canary": ["simulate"]}
    groups["rollout"] = ["undo"]
    return [[n] for n in names] + [[g, s] for g, subs in groups.items() for s in subs]


@pytest.mark.parametrize("command", all_commands(), ids=" ".join)
def test_every_goship_command_has_plain_help(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    code, out, err = goship(capsys, *command, "--help")
    assert (code, err) == (0, "")
    assert out.startswith(f"Usage: goship {' '.join(command)}")
    assert "Options:" in out and "╭" not in out
    assert max(len(line) for line in out.splitlines()) <= 100


@pytest.mark.parametrize("group", ["deps", "config", "canary"])
def test_a_group_without_a_command_prints_its_help(capsys: pytest.CaptureFixture[str], group: str) -> None:
    code, out, _ = goship(capsys, group)
    assert code == 0
    assert out.startswith(f"Usage: goship {group} COMMAND")


def test_deps_help_lists_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = goship(capsys, "deps", "--help")
    for name in ("check", "diff", "parse"):
        assert f"\n  {name}  " in out


def test_publish_help_shows_each_option_with_its_docstring(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = goship(capsys, "publish", "--help")
    assert "Push each service's image for HEAD" in out
    for option in ("--service TEXT", "--platform TEXT", "--store PATH", "--force", "--insecure", "--dry-run"):
        assert option in out
    assert "~/.cache/goship/store/<repo>" in out
    assert out.rstrip().endswith("Example: goship publish --dry-run")


# Errors through main: the documented exit code and error/hint lines


def test_a_usage_error_exits_2_with_error_and_hint_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = goship(capsys, "rehearse", "--from", "v1", "--strategy", "blue")
    assert (code, out) == (2, "")
    assert err == (
        "error: goship rehearse: --strategy expects 'rolling' or 'canary' (not 'blue')\n"
        "hint: see 'goship rehearse --help'\n"
    )


@pytest.mark.parametrize("seconds", ["-1", "10"])
def test_rehearse_refuses_a_prestop_outside_the_grace_period(
    capsys: pytest.CaptureFixture[str], seconds: str
) -> None:
    code, out, err = goship(capsys, "rehearse", "--from", "v1", "--pre-stop", seconds)
    assert (code, out) == (2, "")
    assert f"error: --pre-stop {float(seconds):g}: expected seconds from 0 up to" in err
    assert "10 s termination grace period" in err and "hint: e.g. --pre-stop 5" in err


def test_an_unknown_goship_command_suggests_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = goship(capsys, "tga")
    assert code == 2
    assert "unknown command 'tga'" in err and "did you mean 'tag'?" in err
    assert "hint: see 'goship --help'" in err


def test_an_unknown_top_level_option_suggests_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = goship(capsys, "--versoin")
    assert code == 2
    assert "did you mean '--version'?" in err


# Start-up cost


def imported_by(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_importing_the_cli_imports_no_terminal_library_nor_inspect() -> None:
    loaded = imported_by("import goship.cli")
    assert {"rich", "cyclopts", "inspect", "dataclasses", "typing"}.isdisjoint(loaded)


def test_command_help_renders_without_rich() -> None:
    loaded = imported_by(
        "from goship.cli import main\ntry:\n    main(['publish', '--help'])\nexcept SystemExit:\n    pass"
    )
    assert "goship.cli.publish" in loaded
    assert not any(m == "rich" or m.startswith("rich.") for m in loaded)
