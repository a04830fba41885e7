"""``goship config``: the effective goship.yaml and its JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from goship.cli._app import App, Parameter

app = App(name="config", help="Show goship.yaml's effective settings or its JSON Schema.")


@app.command
def schema() -> int:
    """Print the JSON Schema of goship.yaml (for editors and CI validation).

    Example: goship config schema > goship.schema.json
    """
    from goship.config import config_schema
    from goship.ui.console import print_json

    print_json(config_schema())
    return 0


@app.command
def show(*, json: Annotated[bool, Parameter(negative=())] = False) -> int:
    """Print the effective config: goship.yaml merged over the defaults.

    Parameters
    ----------
    json
        Print it as one JSON document instead of YAML.

    Example: goship config show
    """
    from goship.config import load_config
    from goship.git import Git
    from goship.ui.console import print_json

    top = Git(Path.cwd()).repo_info().top
    data = load_config(top).as_dict()
    if json:
        print_json(data)
    else:
        import yaml

        print(yaml.safe_dump(data, sort_keys=False), end="")
    return 0
