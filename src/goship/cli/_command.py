"""One command of goship's CLI: its options read from the function's signature and numpydoc docstring,
its arguments bound to a call, and its help page.

Keyword-only parameters are options (``dry_run`` is ``--dry-run``, ``from_`` is ``--from``), positional
ones are arguments in order. Types: ``str``, ``int``, ``float``, ``bool``, ``Path``, ``Literal[...]``,
``list[T]`` (a repeatable option) and ``T | None``; ``Annotated[T, Parameter(...)]`` renames an option
or its negative.
"""

from __future__ import annotations

import inspect
import math
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from goship.cli import _help
from goship.cli._app import HELP_FLAGS, either, unknown
from goship.errors import UsageError

if typing.TYPE_CHECKING:
    from collections.abc import Callable, Sequence


@dataclass(frozen=True)
class Parameter:
    """How a command's parameter looks on the command line: ``Annotated[T, Parameter(...)]``."""

    name: str | Sequence[str] = ()
    """The option's names instead of ``--<name>``: ``"--from"``, ``["--module", "-m"]``."""
    negative: str | Sequence[str] | None = None
    """A bool's names that set it False: None gives ``--no-<name>``, ``()`` gives none."""
    help: str = ""
    """Its help when the docstring's Parameters section has no entry for it: for an option several
    commands share (``Annotated`` once, used by each)."""


_KINDS: dict[type, str] = {str: "TEXT", int: "INT", float: "NUMBER", Path: "PATH", bool: ""}
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


@dataclass(frozen=True)
class Option:
    """One parameter of a command as the command line sees it."""

    param: str
    """The Python parameter's name."""
    names: tuple[str, ...]
    """``("--module", "-m")``; for an argument, its metavar (``("FILE",)``)."""
    negatives: tuple[str, ...]
    """Names that set a bool False."""
    kind: type
    """What each value converts to: str, int, float, bool or Path."""
    choices: tuple[str, ...]
    """The allowed values of a ``Literal``; empty for any."""
    repeatable: bool
    """A list: each occurrence adds a value."""
    positional: bool
    """An argument taken by position (the function's positional parameters), not by name."""
    required: bool
    """The function gives it no default."""
    default: object
    """The function's default, shown in the help; None when required."""
    description: str
    """Its entry in the docstring's Parameters section."""

    @property
    def flag(self) -> bool:
        return self.kind is bool

    def convert(self, value: str, *, given: str, prog: str) -> object:
        """``value`` as this option's type; a UsageError saying what was expected when it is not one."""
        if self.choices:
            if value in self.choices:
                return value
            expected = either(self.choices)
        elif self.kind is bool:
            if value.lower() in _BOOLS:
                return _BOOLS[value.lower()]
            expected = "true or false"
        elif self.kind is int:
            try:
                return int(value)
            except ValueError:
                expected = "a whole number"
        elif self.kind is float:
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if math.isfinite(number):
                return number
            expected = "a number"
        else:
            return self.kind(value)
        raise UsageError(f"{prog}: {given} expects {expected} (not {value!r})", hint=f"see '{prog} --help'")

    def usage(self) -> str:
        """The help's first column: ``-m, --module TEXT``, ``--cache, --no-cache``, ``FILE``."""
        if self.positional:
            return self.names[0]
        names = sorted(self.names, key=lambda n: n.startswith("--")) + list(self.negatives)
        metavar = "|".join(self.choices) if self.choices else _KINDS[self.kind]
        return ", ".join(names) + (f" {metavar}" if metavar else "")

    def about(self) -> str:
        """The help's second column: the description, then the default or ``[required]``."""
        if self.required:
            return f"{self.description} [required]".strip()
        default = self.default
        if default is None or default is False:
            return self.description
        if default is True:
            shown = self.names[0]
        elif isinstance(default, float):
            shown = f"{default:g}"
        else:
            shown = str(default)
        return f"{self.description} [default: {shown}]".strip()


def _doc(doc: str | None) -> tuple[str, dict[str, str], str | None]:
    """A numpydoc docstring's text before its Parameters section, each parameter's description, and its
    ``Example:`` line."""
    text: list[str] = []
    params: dict[str, str] = {}
    example = None
    lines = inspect.cleandoc(doc or "").splitlines()
    current: str | None = None
    in_params = False
    for i, line in enumerate(lines):
        if line.startswith("Example:"):
            example = line.removeprefix("Example:").strip()
        elif line == "Parameters" and i + 1 < len(lines) and lines[i + 1].startswith("---"):
            in_params = True
        elif in_params and line.startswith("---"):
            continue
        elif in_params and not line.strip():
            in_params = False
        elif in_params and not line[0].isspace():
            current = line.split(":")[0].strip()
            params[current] = ""
        elif in_params and current is not None:
            params[current] = f"{params[current]} {line.strip()}".strip()
        else:
            text.append(line)
    return "\n".join(text).strip(), params, example


def _unwrap(hint: Any, where: str) -> tuple[type, tuple[str, ...], bool, Parameter]:
    """The parts of an annotation: converted type, Literal choices, repeatable, Parameter."""
    spec = Parameter()
    if get_origin(hint) is Annotated:
        hint, *extras = get_args(hint)
        spec = next((e for e in extras if isinstance(e, Parameter)), spec)
    if get_origin(hint) in (typing.Union, types.UnionType):
        kept = [a for a in get_args(hint) if a is not type(None)]
        if len(kept) != 1:
            raise TypeError(f"{where}: a union other than 'T | None' is not supported: {hint!r}")
        hint = kept[0]
    repeatable = get_origin(hint) is list
    if repeatable:
        (hint,) = get_args(hint)
    if get_origin(hint) is Literal:
        return str, tuple(str(c) for c in get_args(hint)), repeatable, spec
    if hint not in _KINDS:
        raise TypeError(f"{where}: type {hint!r} is not supported")
    return hint, (), repeatable, spec


def _names(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _is_option(token: str) -> bool:
    """An option, not a value: starts with '-' but is neither '-' nor a negative number."""
    if not token.startswith("-") or token == "-":
        return False
    try:
        float(token)
    except ValueError:
        return True
    return False


class Command:
    """A function run as a command: its options and arguments from its signature, its help from its
    docstring."""

    def __init__(self, func: Callable[..., int]) -> None:
        self.func = func
        self.text, descriptions, self.example = _doc(func.__doc__)
        hints = typing.get_type_hints(func, include_extras=True)
        self.options: list[Option] = []
        self.positionals: list[Option] = []
        for p in inspect.signature(func).parameters.values():
            where = f"{func.__module__}.{func.__qualname__}({p.name})"
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{where}: *args and **kwargs are not supported")
            kind, choices, repeatable, spec = _unwrap(hints[p.name], where)
            positional = p.kind is not p.KEYWORD_ONLY
            if positional:
                names: tuple[str, ...] = (p.name.upper(),)
            else:
                names = _names(spec.name) or ("--" + p.name.rstrip("_").replace("_", "-"),)
            negatives: tuple[str, ...] = ()
            if kind is bool and not positional:
                negatives = (
                    tuple(f"--no-{n[2:]}" for n in names if n.startswith("--"))
                    if spec.negative is None
                    else _names(spec.negative)
                )
            option = Option(
                param=p.name,
                names=names,
                negatives=negatives,
                kind=kind,
                choices=choices,
                repeatable=repeatable,
                positional=positional,
                required=p.default is p.empty,
                default=None if p.default is p.empty else p.default,
                description=descriptions.get(p.name, spec.help),
            )
            (self.positionals if positional else self.options).append(option)

    def run(
        self,
        argv: Sequence[str],
        *,
        prog: str,
        about: str | None = None,
        commands: Sequence[tuple[str, str]] = (),
    ) -> int:
        """Print the help when asked (``about`` and ``commands`` when this is a group's default command),
        else bind ``argv`` and call the function."""
        options_part = argv[: argv.index("--")] if "--" in argv else argv
        if any(token in HELP_FLAGS for token in options_part):
            sys.stdout.write(self.help(prog, about=about, commands=commands))
            return 0
        args, kwargs = self.bind(argv, prog=prog)
        return self.func(*args, **kwargs)

    def bind(self, argv: Sequence[str], *, prog: str) -> tuple[list[object], dict[str, object]]:
        """The call's positional and keyword arguments; a UsageError for anything else on the line."""
        by_name = {n: (o, True) for o in self.options for n in o.names}
        by_name.update({n: (o, False) for o in self.options for n in o.negatives})
        values: dict[str, Any] = {}
        given: dict[str, str] = {}
        positionals: list[str] = []
        tokens = list(argv)
        only_positionals = False
        while tokens:
            token = tokens.pop(0)
            if only_positionals or not _is_option(token):
                positionals.append(token)
                continue
            if token == "--":
                only_positionals = True
                continue
            name, has_value, inline = token.partition("=")
            if name not in by_name:
                raise unknown("option", name, [*by_name, *HELP_FLAGS], prog=prog)
            option, positive = by_name[name]
            value: object
            if option.flag and not has_value:
                value = positive
            else:
                if not has_value:
                    if not tokens or _is_option(tokens[0]):
                        found = f"the option {tokens[0]!r}" if tokens else "nothing"
                        raise UsageError(
                            f"{prog}: {name} expects a value (found {found})", hint=f"see '{prog} --help'"
                        )
                    inline = tokens.pop(0)
                value = option.convert(inline, given=name, prog=prog)
                if option.flag and not positive:
                    value = not value
            if option.repeatable:
                values.setdefault(option.param, []).append(value)
                continue
            if option.param in given:
                before = given[option.param]
                twice = (
                    "twice; expected it once" if before == name else f"after {before}; expected one of them"
                )
                raise UsageError(f"{prog}: {name} given {twice}", hint=f"see '{prog} --help'")
            values[option.param] = value
            given[option.param] = name
        return self._positional_args(positionals, prog=prog), self._keyword_args(values, prog=prog)

    def _positional_args(self, tokens: list[str], *, prog: str) -> list[object]:
        if len(tokens) > len(self.positionals):
            extra = tokens[len(self.positionals)]
            takes = " ".join(o.names[0] for o in self.positionals) or "options only"
            raise UsageError(
                f"{prog}: unexpected argument {extra!r} (it takes {takes})", hint=f"see '{prog} --help'"
            )
        args = [
            o.convert(t, given=o.names[0], prog=prog) for o, t in zip(self.positionals, tokens, strict=False)
        ]
        missing = [o for o in self.positionals[len(tokens) :] if o.required]
        if missing:
            raise self._missing(missing[0].names[0], prog=prog)
        return args

    def _keyword_args(self, values: dict[str, Any], *, prog: str) -> dict[str, object]:
        missing = [o for o in self.options if o.required and o.param not in values]
        if missing:
            option = missing[0]
            metavar = f" {_KINDS[option.kind]}" if not option.flag else ""
            raise self._missing(f"{option.names[0]}{metavar}", prog=prog)
        return values

    def _missing(self, what: str, *, prog: str) -> UsageError:
        hint = f"see '{prog} --help'" + (f"; e.g. {self.example}" if self.example else "")
        return UsageError(f"{prog}: missing {what}, which is required", hint=hint)

    def help(self, prog: str, *, about: str | None = None, commands: Sequence[tuple[str, str]] = ()) -> str:
        """The help page: usage, the docstring's text, commands (for a group's default), arguments,
        options, and the example."""
        width = _help.width()
        usage = f"{prog}{' [COMMAND]' if commands else ''} [OPTIONS]"
        for o in self.positionals:
            usage += f" {o.names[0]}" if o.required else f" [{o.names[0]}]"
        text = _help.paragraphs(about, width) if about else []
        if self.text:
            text += [""] * bool(text) + _help.paragraphs(self.text, width)
        rows = [(o.usage(), o.about()) for o in self.options]
        rows.append((", ".join(HELP_FLAGS), "Show this help and exit."))
        return _help.page(
            usage,
            text,
            ["Commands:", *_help.columns(commands, width)] if commands else [],
            ["Arguments:", *_help.columns([(o.usage(), o.about()) for o in self.positionals], width)]
            if self.positionals
            else [],
            ["Options:", *_help.columns(rows, width)],
            [f"Example: {self.example}"] if self.example else [],
        )
