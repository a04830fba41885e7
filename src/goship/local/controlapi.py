"""The daemon's side of the runtime's control API (JSON over loopback HTTP; the client is
:class:`goship.local.control.ControlClient`): every request checked for the token, then routed to the daemon.

    GET  /status                                   the state document (:mod:`goship.local.daemon`), live
    POST /scale     {replicas}                     resize the current revision
    POST /rollout   {version, store, ref, platform, replicas?, max_surge?, max_unavailable?,
                     progress_deadline_s?}         a new revision, rolled out by the RollingUpdate engine
    POST /undo      {to_revision|null, ...}        back to an earlier revision (default: the one before)
    POST /canary    {version, store, ref, platform, spec}
                                                   a new revision beside the current one, analysed as a
                                                   canary (:mod:`goship.local.canary`; spec as documented there)
    POST /canary/pause, /canary/resume, /canary/promote {force?}, /canary/abort {reason?}
                                                   the canary's commands; resume also takes over a canary
                                                   whose engine is gone (a restarted runtime)
    POST /down      {}                             stop every replica gracefully, the router, then exit

Rollouts and canaries run in background threads; ``GET /status`` shows their events and outcome (the
canary's whole record is in ``DIR/canary.json``). Every request must carry the token from the state file
(header ``X-Goship-Token``); errors answer ``{"error", "hint", "exit_code"}``.
"""

from __future__ import annotations

import json
import logging
import secrets
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from goship.errors import GoshipError
from goship.local.control import TOKEN_HEADER
from goship.local.revisions import ConflictError

if TYPE_CHECKING:
    from goship.local.daemon import Daemon

log = logging.getLogger("goship.daemon")


class ControlHandler(BaseHTTPRequestHandler):
    """The control API: JSON in, JSON out; errors as ``{"error", "hint"}`` with 400, 409 or 500. Its server
    carries the daemon as ``server.daemon``."""

    server: ThreadingHTTPServer

    @property
    def _daemon(self) -> Daemon:
        daemon: Daemon = self.server.daemon  # type: ignore[attr-defined]
        return daemon

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("control: " + format, *args)

    def _send(self, code: int, document: object) -> None:
        data = json.dumps(document).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        given = self.headers.get(TOKEN_HEADER, "")
        if secrets.compare_digest(given, self._daemon.token):
            return True
        self._send(403, {"error": "missing or wrong token (it is in the runtime's state.json)"})
        return False

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.path == "/status":
            self._send(200, self._daemon.snapshot())
        else:
            self._send(404, {"error": f"no such endpoint: GET {self.path}"})

    def do_POST(self) -> None:
        if not self._authorised():
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object")
        except ValueError as exc:
            self._send(400, {"error": f"the request body is not a JSON object: {exc}"})
            return
        daemon = self._daemon
        try:
            if self.path == "/scale":
                answer = daemon.scale(int(body.get("replicas", -1)))
            elif self.path == "/rollout":
                answer = daemon.rollouts.add_revision(body)
            elif self.path == "/undo":
                answer = daemon.rollouts.undo(body)
            elif self.path == "/canary":
                answer = daemon.canary.start(body)
            elif self.path.startswith("/canary/"):
                answer = daemon.canary.command(self.path.removeprefix("/canary/"), body)
            elif self.path == "/down":
                daemon.stop()
                answer = {"stopping": True}
            else:
                self._send(404, {"error": f"no such endpoint: POST {self.path}"})
                return
        except ConflictError as exc:
            self._send(409, {"error": exc.message, "hint": exc.hint, "exit_code": exc.exit_code})
            return
        except GoshipError as exc:
            self._send(
                400 if exc.exit_code in (1, 2) else 500,
                {"error": exc.message, "hint": exc.hint, "exit_code": exc.exit_code},
            )
            return
        except (ValueError, TypeError) as exc:
            self._send(400, {"error": f"bad request: {exc}"})
            return
        except Exception as exc:
            log.exception("POST %s", self.path)
            self._send(500, {"error": f"{type(exc).__name__}: {exc}"})
            return
        daemon.persist()
        self._send(200, answer)
