"""goship's command tree: commands and groups by name, each imported only when it runs or shows its help.

Only the standard library, and little of it: ``goship --version`` and ``goship --help`` import this module
and nothing heavier. Reading a command's signature and parsing its arguments is
:mod:`goship.cli._command`'s job, loaded when a command runs (``inspect`` and ``dataclasses`` alone cost
more than this whole layer's budget).
"""

from __future__ import annotations

import sys

from goship.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import TypeVar

    from goship.cli._command import Parameter

    Target = TypeVar("Target", bound="Callable[..., int] | str | App")
    Func = TypeVar("Func", bound="Callable[..., int]")

__all__ = ["HELP_FLAGS", "App", "Parameter", "either", "unknown"]

HELP_FLAGS = ("-h", "--help")

if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        # Command modules import Parameter from here; loading it on first use keeps `dataclasses` and
        # `inspect` out of `goship --version`.
        if name == "Parameter":
            from goship.cli._command import Parameter

            return Parameter
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def either(items: Sequence[str], *, last: str = "or") -> str:
    """``'a', 'b' or 'c'``: a list of choices for a message."""
    quoted = [repr(i) for i in items]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} {last} {quoted[-1]}"


def unknown(what: str, found: str, known: Sequence[str], *, prog: str, expected: str = "") -> UsageError:
    """The error for an unknown command or option: what was found, what was expected, the closest name."""
    import difflib

    close = difflib.get_close_matches(found, known, n=1)
    message = f"{prog}: unknown {what} {found!r}" + (f" ({expected})" if expected else "")
    if close:
        message += f"; did you mean {close[0]!r}?"
    return UsageError(message, hint=f"see '{prog} --help'")


def _summary(target: Callable[..., int] | App) -> str:
    """The first paragraph of a command's docstring, or a group's help, as one line."""
    text = target.help if isinstance(target, App) else (target.__doc__ or "")
    return " ".join(text.strip().split("\n\n")[0].split())


class App:
    """A group of commands: functions, ``"module:function"`` strings (imported when the command runs or
    shows its help) and other Apps, with an optional default command for when no command is named."""

    def __init__(self, name: str, *, help: str = "", version: str | None = None) -> None:
        self.name = name
        self.help = help
        self.version = version
        """Printed by ``--version`` when set (the top-level app only)."""
        self._commands: dict[str, tuple[Callable[..., int] | str | App, str | None]] = {}
        self._default: Callable[..., int] | None = None

    def command(self, target: Target, *, name: str | None = None, help: str | None = None) -> Target:
        """Register ``target`` as command ``name`` (default: its name, ``_`` as ``-``), with ``help`` as its
        line in the group's help (default: its docstring's first paragraph). A bare decorator too."""
        if name is None:
            if isinstance(target, str):
                name = target.rpartition(":")[2]
            else:
                name = target.name if isinstance(target, App) else target.__name__
            name = name.replace("_", "-")
        self._commands[name] = (target, help)
        return target

    def default(self, func: Func) -> Func:
        """Run ``func`` when the group is called without a command name."""
        self._default = func
        return func

    def __call__(self, argv: Sequence[str]) -> int:
        """Parse ``argv`` (without the program name), run the command it names, return its exit code."""
        return self._run(list(argv), prog=self.name, about=self.help)

    def _run(self, argv: list[str], *, prog: str, about: str) -> int:
        first = argv[0] if argv else None
        if first is not None and first in self._commands:
            return self._dispatch(first, argv[1:], prog=f"{prog} {first}")
        if self._default is not None:
            from goship.cli._command import Command

            command = Command(self._default)
            if first is not None and not first.startswith("-") and not command.positionals:
                raise self._unknown_command(first, prog)
            return command.run(argv, prog=prog, about=about, commands=self._listing())
        if first is None or first in HELP_FLAGS:
            sys.stdout.write(self._help(prog, about))
            return 0
        if first == "--version" and self.version is not None:
            sys.stdout.write(f"{self.version}\n")
            return 0
        if first.startswith("-"):
            flags = [*HELP_FLAGS, *(["--version"] if self.version is not None else [])]
            raise unknown("option", first, flags, prog=prog, expected="a command comes first")
        raise self._unknown_command(first, prog)

    def _dispatch(self, name: str, argv: list[str], *, prog: str) -> int:
        target, about = self._commands[name]
        resolved = _resolve(target)
        if isinstance(resolved, App):
            return resolved._run(argv, prog=prog, about=about or resolved.help)
        from goship.cli._command import Command

        return Command(resolved).run(argv, prog=prog)

    def _unknown_command(self, found: str, prog: str) -> UsageError:
        names = list(self._commands)
        return unknown("command", found, names, prog=prog, expected=f"expected {either(names)}")

    def _listing(self) -> list[tuple[str, str]]:
        return [
            (name, about if about is not None else _summary(_resolve(target)))
            for name, (target, about) in self._commands.items()
        ]

    def _help(self, prog: str, about: str) -> str:
        from goship.cli import _help

        width = _help.width()
        flags = [("-h, --help", "Show this help and exit.")]
        if self.version is not None:
            flags.append(("--version", f"Print {self.name}'s version and exit."))
        return _help.page(
            f"{prog} COMMAND",
            _help.paragraphs(about, width),
            ["Commands:", *_help.columns(self._listing(), width)],
            ["Options:", *_help.columns(flags, width)],
        )


def _resolve(target: Callable[..., int] | str | App) -> Callable[..., int] | App:
    if not isinstance(target, str):
        return target
    import importlib

    module, _, attribute = target.partition(":")
    resolved: Callable[..., int] | App = getattr(importlib.import_module(module), attribute)
    return resolved
