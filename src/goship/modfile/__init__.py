"""go.mod files (go.dev/ref/mod#go-mod-file), read exactly as golang.org/x/mod/modfile reads them.

:func:`parse` is ``modfile.Parse`` with no version fixer: the main module's go.mod, every directive
checked, module versions canonicalised (``v1.2`` becomes ``v1.2.0``). ``parse(..., lax=True)`` is
``modfile.ParseLax``: a dependency's go.mod, where unknown directives and the ones only a main module
obeys (``exclude``, ``replace``, ``toolchain``, ``godebug``, ``tool``) are skipped. :func:`edit_json`
is the document ``go mod edit -json`` prints for the same file and :func:`edit_json_text` its exact text.

Text is Go's bytes decoded as UTF-8 with ``surrogateescape`` (what :func:`parse_file` does): an invalid
byte is one character, as it is one rune to Go, so columns agree. Every message is Go's, word for word.
"""

from __future__ import annotations

from goship.modfile._json import edit_json, edit_json_text
from goship.modfile._model import (
    Exclude,
    Godebug,
    GoDirective,
    Ignore,
    ModFile,
    ModFileError,
    ModFileProblem,
    ModuleDirective,
    Replace,
    Require,
    Retract,
    Tool,
    ToolchainDirective,
)
from goship.modfile._rules import is_directory_path, parse, parse_file

__all__ = [
    "Exclude",
    "GoDirective",
    "Godebug",
    "Ignore",
    "ModFile",
    "ModFileError",
    "ModFileProblem",
    "ModuleDirective",
    "Replace",
    "Require",
    "Retract",
    "Tool",
    "ToolchainDirective",
    "edit_json",
    "edit_json_text",
    "is_directory_path",
    "parse",
    "parse_file",
]
