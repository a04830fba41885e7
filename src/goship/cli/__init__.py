"""The ``goship`` command: argument parsing and rendering only; the work happens in the core packages.

Commands are imported lazily so ``goship --help`` and ``goship version --json`` start fast; for the same
reason this module imports only what ``goship --version`` needs (not even ``typing`` or ``traceback``).
"""

from __future__ import annotations

import os
import sys

from goship import __version__
from goship.cli._app import App
from goship.errors import GoshipError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn

HELP = """goship takes a Go microservice from a commit to 100 % of production traffic.

Exit codes: 0 ok, 1 a check or gate failed, 2 usage or config error,
3 an environment error (git, go), 4 a remote error (registry, cluster), 70 a bug in goship.
Every read command takes --json; every command that changes something takes --dry-run.
"""


def build_app() -> App:
    app = App("goship", help=HELP, version=__version__)
    app.command(
        "goship.cli.version:version",
        name="version",
        help="Each Go module's current and next version, and the commits that decide it.",
    )
    app.command(
        "goship.cli.changelog:changelog",
        name="changelog",
        help="Release notes of the next release; --write prepends them to CHANGELOG.md.",
    )
    app.command(
        "goship.cli.tag:tag",
        name="tag",
        help="Create (and --push) the release tags the commits call for; refuse the wrong ones.",
    )
    app.command(
        "goship.cli.build:build",
        name="build",
        help="Build every Go service into a reproducible OCI image (no Docker) in the local store.",
    )
    app.command(
        "goship.cli.publish:publish",
        name="publish",
        help="Push each service's image with its exact tag and rolling tags that never move backwards.",
    )
    app.command(
        "goship.cli.rehearse:rehearse",
        name="rehearse",
        help="Rehearse an upgrade on this machine under load; exit 1 when it is not safe.",
    )
    app.command(
        "goship.cli.demo:demo",
        name="demo",
        help="The whole story on this machine: a clean upgrade and a bad one caught under load.",
    )
    app.command(
        "goship.cli.runtime:up",
        name="up",
        help="Run a service on this machine behind goship's router, and keep it running (idempotent).",
    )
    app.command(
        "goship.cli.runtime:status",
        name="status",
        help="The local runtime: replicas, revisions, router URL, last rollout.",
    )
    app.command(
        "goship.cli.runtime:rollout_app",
        name="rollout",
        help="Roll the local runtime out to another version; 'rollout undo' rolls back.",
    )
    app.command(
        "goship.cli.runtime:down",
        name="down",
        help="Stop the local runtime: replicas, router and daemon.",
    )
    app.command(
        "goship.cli.deps:app",
        name="deps",
        help="Dependency gates: 'check' go.mod/go.sum/vendor, 'diff' two revisions, 'parse' a go.mod.",
    )
    app.command(
        "goship.cli.config:app",
        name="config",
        help="goship.yaml: 'show' the effective config, or its 'schema'.",
    )
    app.command(
        "goship.cli.canary:app",
        name="canary",
        help="Canary releases on the local runtime or a cluster: start, status, pause, resume, promote, abort, explain.",
    )
    app.command(
        "goship.cli.kube:render",
        name="render",
        help="Print a service's Kubernetes objects with the release's image by digest (or pin your own).",
    )
    app.command(
        "goship.cli.kube:deploy",
        name="deploy",
        help="Deploy a release to Kubernetes (server-side apply), watch it, undo it when it fails.",
    )
    app.command(
        "goship.cli.kube:history",
        name="history",
        help="A service's revisions on Kubernetes and goship's record of its deploys.",
    )
    app.command(
        "goship.cli.kube:rollback",
        name="rollback",
        help="Roll a Kubernetes Deployment back to a known-good release from goship's history.",
    )
    return app


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run goship; exit with the documented code."""
    app = build_app()
    try:
        code = app(sys.argv[1:] if argv is None else argv)
    except GoshipError as err:
        from goship.ui.console import report_error

        if os.environ.get("GOSHIP_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        report_error(err)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except BrokenPipeError:
        # The reader went away (goship ... | head): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except Exception:
        import traceback

        traceback.print_exc()
        sys.stderr.write(
            "error: internal error: this is a bug in goship; please report it with the traceback\n"
        )
        sys.exit(70)
    sys.exit(code)
