"""One frozen health snapshot of the station: what the status lights, the PLC and the status line show.

Everything that can be wrong is here as data (camera, model, database, disk, the worker threads, each link
with its security mode), built in one place from the station's parts. Readers never parse a human text to
learn a state: the window asks ``link.secured``, not whether a string says "None".
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from inspect_app.detector.describe import describe

if TYPE_CHECKING:
    from inspect_app.station import Station


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    ok: bool
    state: str  # one word: "streaming", "lost", "loaded", "ok", "full", ...
    detail: str  # one line for people


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    name: str
    alive: bool
    busy_s: float  # on the current item; 0 when idle
    part_id: str | None


@dataclass(frozen=True, slots=True)
class LinkHealth:
    name: str
    connected: bool
    secured: bool  # nothing of it is served or sent in clear
    security_mode: str  # e.g. "None", "Basic256Sha256/SignAndEncrypt"
    detail: str
    faults: tuple[str, ...] = ()
    mode: str = ""  # "server" | "client" | ...
    endpoint: str = ""
    peers: int | None = None  # a server's connected clients; None where it does not apply


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    station: str
    state: str
    error_code: str | None
    error_text: str | None
    recipe: str
    heartbeat: int
    camera: ComponentHealth
    model: ComponentHealth
    db: ComponentHealth
    disk: ComponentHealth
    workers: tuple[WorkerHealth, ...]
    links: tuple[LinkHealth, ...] = ()
    time: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        parts_ok = all(c.ok for c in (self.camera, self.model, self.db, self.disk))
        return parts_ok and all(w.alive for w in self.workers) and self.error_code is None

    def with_links(self, links: tuple[LinkHealth, ...]) -> HealthSnapshot:
        return replace(self, links=links)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def status_line(self) -> str:
        """One line for a terminal: state first, then whatever is not fine."""
        head = self.state + (f" [{self.error_code}] {self.error_text}" if self.error_code else "")
        parts = (("camera", self.camera), ("model", self.model), ("db", self.db), ("disk", self.disk))
        bad = [f"{n}: {c.detail}" for n, c in parts if not c.ok]
        bad += [f"worker {w.name} dead" for w in self.workers if not w.alive]
        for link in self.links:
            if not link.connected:
                bad.append(f"link {link.name}: {link.detail}")
            if not link.secured:
                bad.append(f"link {link.name} UNSECURED ({link.security_mode})")
        return "; ".join([head, *bad])


def link_health(name: str, status: dict[str, Any]) -> LinkHealth:
    """A link's ``status()`` dict as data. Links report ``secured``; one that does not is taken as unsecured
    (never guessed secure from a text)."""
    return LinkHealth(
        name=name,
        connected=bool(status.get("connected")),
        secured=bool(status.get("secured", False)),
        security_mode=str(status.get("security_mode") or status.get("security") or "None"),
        detail=str(status.get("detail", "")),
        faults=tuple(str(f) for f in status.get("faults", ()) or ()),
        mode=str(status.get("mode", "")),
        endpoint=str(status.get("endpoint", "")),
        peers=None if status.get("clients") is None else int(status["clients"]),
    )


def station_health(station: Station) -> HealthSnapshot:
    now = time.monotonic()
    workers = []
    for watch in station.watches():
        busy, part = watch.stuck_for(now) if watch.stuck_for else (0.0, None)
        workers.append(WorkerHealth(watch.name, watch.alive(), round(busy, 3), part))
    if station.supervisor is not None:
        workers.append(WorkerHealth("supervisor", station.supervisor.alive, 0.0, None))
    store_health = getattr(station._store, "health", None)
    db, disk = store_health() if store_health else (_unknown("no store"), _unknown("no store"))
    return HealthSnapshot(
        station=station.station_name,
        state=str(station.state),
        error_code=station.error_code,
        error_text=station.error_text,
        recipe=station.recipe,
        heartbeat=station.heartbeat,
        camera=_camera(station),
        model=_model(station),
        db=db,
        disk=disk,
        workers=tuple(workers),
    )


def _unknown(why: str) -> ComponentHealth:
    return ComponentHealth(False, "unknown", why)


def _camera(station: Station) -> ComponentHealth:
    status = station.source_status()
    problem = station._camera_error
    if status is not None:
        fps = getattr(status, "fps", None)
        detail = getattr(status, "message", "")
        if fps:
            detail += f" ({fps:g} fps)"
        return ComponentHealth(bool(status.ok) and not problem, str(status.state), detail)
    if problem:
        return ComponentHealth(False, "error", station._camera_message or problem)
    acq = station.acquire
    if acq is not None and acq.exhausted:
        return ComponentHealth(True, "finished", "the image source has no more frames")
    opened = acq is not None and acq.source_open
    return ComponentHealth(True, "ok" if opened else "closed", "delivering frames" if opened else "not open")


def _model(station: Station) -> ComponentHealth:
    models = station.models()
    if not models:
        return ComponentHealth(False, "none", "no model loaded")
    active = station.config.recipes[station.recipe].model
    det = models.get(active)
    if det is None:
        return ComponentHealth(False, "missing", f"model of recipe {station.recipe} not loaded")
    # the precision really computed in (auto's choice, or f32 where a CPU has no bf16), and why auto chose it
    return ComponentHealth(True, "loaded", describe(det))
