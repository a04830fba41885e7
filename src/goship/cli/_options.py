"""Options several commands take with the same meaning, their help written once (a command's docstring
may still say more for its own)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from goship.cli._app import Parameter

ServiceName = Annotated[str | None, Parameter(help="The service (needed when the repository has several).")]
RuntimeStore = Annotated[
    Path | None, Parameter(help="goship's local OCI image layout; the runtime's state lives beside it.")
]
