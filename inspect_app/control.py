"""A local control channel for a running station: software triggers and recipe switches from the CLI.

The station listens on a Unix socket in its state directory (``var/station.sock``), so only users who
can write there can drive it. The state dir's lock (``state_dir_lock``) makes the socket its station's
alone: a stale socket left by a killed station is replaced at start, and at stop the socket is removed only
if it is still the one this server made. One JSON object per line in, one per line out:
``{"cmd": "trigger", "part_id": "A-17"}``, ``{"cmd": "recipe", "name": "pcb-b", "who": "alice"}``,
``{"cmd": "reset"}``, ``{"cmd": "status"}``, and ``{"cmd": "promote", "from": DIR, "to": DIR, "who": ...}``
(``models promote`` / ``rollback``, after their gate: every recipe running the release in ``from`` switches
to ``to`` from the next part, audited as a model switch).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inspect_app.health import HealthSnapshot
from inspect_app.model_release import ModelError, load_release
from inspect_app.releases import ReleaseRegistry
from inspect_app.rules import RecipeError, RecipeRules
from inspect_app.station import NotRunning, Station
from inspect_app.store.schema import StoreError

log = logging.getLogger(__name__)

SOCKET_NAME = "station.sock"


HealthProbe = Callable[[], HealthSnapshot | None]


def handle(station: Station, request: dict[str, Any], health: HealthProbe | None = None) -> dict[str, Any]:
    cmd = request.get("cmd")
    try:
        if cmd == "trigger":
            req = station.trigger(request.get("part_id"), source="software")
            return {"ok": True, "part_id": req.part_id, "trigger_id": req.trigger_id}
        if cmd == "recipe":
            station.set_recipe(str(request["name"]), who=str(request.get("who", "cli")))
            return {"ok": True, "recipe": station.recipe}
        if cmd == "reset":
            return {"ok": station.reset(who=str(request.get("who", "cli"))), "state": str(station.state)}
        if cmd == "promote":
            return {"ok": True, "switched": _promote(station, request)}
        if cmd == "status":
            snapshot = (health() if health else None) or station.health()
            return {
                "ok": True,
                "state": str(station.state),
                "error_code": station.error_code,
                "error_text": station.error_text,
                "recipe": station.recipe,
                "recipes": station.recipes,
                "counters": station.counters,
                "health": snapshot.as_dict(),
                "status_line": snapshot.status_line(),
                "shadow": (shadow.as_dict() if (shadow := station.shadow_status()) is not None else None),
                "config": str(station.config.source_file) if station.config.source_file else None,
                # the results DB it writes: from its config in memory, whatever its file says by now
                "db": str(Path(station.config.state_dir) / station.config.store.db),
            }
    except (KeyError, NotRunning) as exc:
        return {"ok": False, "error": str(exc).strip("'\"")}
    except (ModelError, RecipeError, StoreError) as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": False, "error": f"unknown command {cmd!r}"}


def _promote(station: Station, request: dict[str, Any]) -> list[str]:
    """Switch the recipes on ``from`` to ``to``, which must be the default its models folder names now: the
    pointer moves only through the gate (``models promote``) or a rollback, so anything else sent here would
    be a switch no gate has seen. Every recipe's fit is checked before any switches."""
    old, new = Path(str(request["from"])).resolve(), Path(str(request["to"])).resolve()
    if ReleaseRegistry(new.parent.parent).default_dir().resolve() != new:
        raise ModelError(f"{new} is not the default release of its models folder: promote it with "
                         "'inspect-app models promote' (the gate) first")  # fmt: skip
    who = str(request.get("who", "cli"))
    names = [n for n, r in station.config.recipes.items() if Path(r.model).resolve() == old]
    classes = load_release(new, verify=[]).names
    for name in names:
        RecipeRules(name, station.config.recipes[name], classes)  # RecipeError before anything switched
    for name in names:
        station.switch_model(name, new, who).result(timeout=120)
    return names


class ControlServer:
    def __init__(self, station: Station, path: Path, health: HealthProbe | None = None) -> None:
        self.station = station
        self.path = path
        self.health = health
        self._server: socketserver.UnixStreamServer | None = None
        self._inode: int | None = None

    def start(self) -> None:
        station, health = self.station, self.health

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for line in self.rfile:
                    try:
                        reply = handle(station, json.loads(line), health)
                    except (ValueError, TypeError) as exc:
                        reply = {"ok": False, "error": f"bad request: {exc}"}
                    self.wfile.write(json.dumps(reply).encode() + b"\n")

        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a socket left by a killed station
        self._server = socketserver.ThreadingUnixStreamServer(str(self.path), Handler)
        self._server.daemon_threads = True
        self._inode = self.path.stat().st_ino
        threading.Thread(target=self._server.serve_forever, name="control", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            with contextlib.suppress(FileNotFoundError):
                if self.path.stat().st_ino == self._inode:  # never another station's socket
                    self.path.unlink()


def send(state_dir: Path, request: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    path = Path(state_dir) / SOCKET_NAME
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            return {"ok": False, "error": f"no station running with state dir {state_dir} ({path} absent)"}
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data) if data else {"ok": False, "error": "station closed the connection"}
