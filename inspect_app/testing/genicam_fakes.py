"""Aravis's own fake cameras for tests and benches: the in-process ``Fake`` interface (device ``Fake_1``),
and ``arv-fake-gv-camera-0.8``, a GigE Vision camera in a process of its own on 127.0.0.1 that can be
stopped (unplugged) and started again, and can lose packets. Nothing here is a mock: the station's real
GenICam source talks to them through Aravis as to a camera on the line."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import Future
from typing import Any

from inspect_app.config_genicam import CameraSettings, GenicamSourceConfig
from inspect_app.sources.genicam_aravis import why_unavailable
from inspect_app.types import PartRequest, Severity

FAKE_GV_BINARY = "arv-fake-gv-camera-0.8"
GVCP_PORT = 3956


def skip_reason() -> str | None:
    """Why Aravis tests cannot run here (None: they can)."""
    missing = why_unavailable()
    return f"Aravis is not installed: {missing}" if missing else None


def fake_config(**over: Any) -> GenicamSourceConfig:
    """The in-process fake camera, small frames, quick timeouts."""
    data: dict[str, Any] = {
        "camera": "Fake_1", "interfaces": ["Fake"], "roi": (0, 0, 64, 48), "frame_rate": 100.0,
        "open_timeout_s": 3.0, "read_timeout_s": 2.0, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5,
        "heartbeat_s": 0.2,
    }  # fmt: skip
    data.update(over)
    return GenicamSourceConfig(**data)


def request(trigger_id: int, recipe: str = "r") -> PartRequest:
    return PartRequest(f"part-{trigger_id}", trigger_id, "software", time.time(), time.monotonic(), recipe)


class FakeGvCamera:
    """``arv-fake-gv-camera-0.8 -i 127.0.0.1``: ``stop()`` is a pulled cable, ``start()`` the camera back."""

    def __init__(self, serial: str = "GV01", lost_per_thousand: int = 0) -> None:
        self.serial = serial
        self.lost_per_thousand = lost_per_thousand
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def missing() -> str | None:
        if shutil.which(FAKE_GV_BINARY) is None:
            return f"{FAKE_GV_BINARY} not found (Debian package aravis-tools)"
        return None

    def start(self) -> FakeGvCamera:
        cmd = [FAKE_GV_BINARY, "-i", "127.0.0.1", "-s", self.serial]
        if self.lost_per_thousand:
            cmd += ["-r", str(self.lost_per_thousand)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _gvcp_bound() and time.monotonic() < deadline:  # listening once its port is taken
            if self.proc.poll() is not None:
                raise RuntimeError(f"{FAKE_GV_BINARY} exited with {self.proc.returncode}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # a cable pulled: no goodbye to the host
            self.proc.wait(10)
        self.proc = None


def _gvcp_bound() -> bool:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("127.0.0.1", GVCP_PORT))
    except OSError:
        return True
    finally:
        probe.close()
    return False


class RecordingHost:
    """A station's side of ``CameraHost`` for a source tested alone: the recipe, and what it reported."""

    def __init__(self, recipes: dict[str, CameraSettings | None], recipe: str) -> None:
        self.recipes = recipes
        self.recipe = recipe
        self.events: list[tuple[str, Severity, str, dict]] = []
        self.audits: list[tuple[str, str, str, str, object, object]] = []
        self._lock = threading.Lock()

    def camera_settings_for(self, recipe: str) -> CameraSettings | None:
        return self.recipes.get(recipe)

    def event(self, kind: str, severity: Severity, message: str, **payload: object) -> None:
        with self._lock:
            self.events.append((kind, severity, message, payload))

    def audit(self, who: str, role: str, action: str, target: str, old: object, new: object) -> Future:
        with self._lock:
            self.audits.append((who, role, action, target, old, new))
        done: Future = Future()
        done.set_result(len(self.audits))
        return done
