"""GigE Vision and USB3 Vision cameras through Aravis (``[source] kind = "genicam"``; docs/cameras.md).

A grabber thread owns the connection: it opens the camera (by serial, user id, address or id), applies the
``[source]`` settings, streams, reconnects with backoff, applies the current recipe's camera settings at
changeover, and reads the camera's health at each heartbeat. The station's rules for live cameras hold:

* **Newest frame, no backlog.** In free run the newest complete frame not handed out before is the part's
  picture; a frame taken more than ``max_frame_age_ms`` before the trigger is not (the station's
  ``STALE_FRAME``). With a hardware trigger the camera takes one frame per part on its trigger line: frames
  wait in arrival order, each part takes the oldest one not older than the age limit at its trigger, and a
  frame no part claims within that limit is dropped as ``unmatched``. With a software trigger each part
  fires ``TriggerSoftware`` and takes the first frame that arrives after it.
* **Every frame id accounted for** (``genicam_ledger``): handed to a part, dropped with a reason, incomplete,
  or missing; the part's record names its camera frame id and time, and how it was matched, in ``origin``.
* **Settings per recipe** are applied by the grabber as soon as the station's recipe changes, and a part of
  the new recipe never gets a frame exposed before they were applied (free run: a newer one is awaited;
  hardware trigger: that part is NOT_INSPECTED ``CAMERA_SETTINGS``). Each application is an event and an
  audit row.
* **Reconnect** with backoff (``reconnect_min_s`` doubling to ``reconnect_max_s``); a GigE Vision camera
  opened by address is found within half a second of answering again.
* **Health**: lost link (no frame for ``frame_timeout_ms`` in free run, a failed heartbeat read otherwise),
  incomplete frames (``stale_after`` in a row make the camera DAMAGED, an Error until ``stale_clear_after``
  complete ones), missing frame ids, resent packets and the temperature, in ``status()`` and as events.

Aravis is imported only when the source opens, so the station runs without it for every other source.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from inspect_app.config_genicam import CameraSettings, GenicamSourceConfig
from inspect_app.protocols import CorruptFrame, SourceError
from inspect_app.sources import genicam_aravis as arv
from inspect_app.sources.camera_state import (
    STATE_CODES,
    CameraState,
    CameraStateMachine,
    first_connect_grace,
    frame_age_limit_s,
    frame_timeout_s,
)
from inspect_app.sources.genicam_health import GenicamStatus, HealthReporter, summary
from inspect_app.sources.genicam_ledger import FrameLedger
from inspect_app.sources.genicam_pixels import PixelDataError, to_bgr
from inspect_app.sources.genicam_settings import AppliedSettings, SettingChange, effective
from inspect_app.types import Frame, PartRequest, Severity

log = logging.getLogger(__name__)

SETTLE_FRAMES = 2  # free run: frames after a (re)connect before the camera counts as streaming again
_POLL_S = 0.05
_FATAL_OPEN = ("NOT_FOUND", "OPEN_FAILED", "CONFIG_REFUSED", "NO_ARAVIS")
_ALIVE = (CameraState.STREAMING, CameraState.DAMAGED, CameraState.FROZEN)
MIXED = -1  # a frame exposed while settings changed: the picture of no recipe
_HARDWARE_MARGIN_S = 0.05  # a hardware-triggered frame arriving this soon after a change may predate it


class CameraHost(Protocol):
    """What the source asks of the station it is bound to (``Station`` provides these)."""

    @property
    def recipe(self) -> str: ...
    def camera_settings_for(self, recipe: str) -> CameraSettings | None: ...
    def event(self, kind: str, severity: Severity, message: str, **payload: object) -> None: ...
    def audit(self, who: str, role: str, action: str, target: str, old: object, new: object) -> Any: ...


@dataclass(frozen=True, slots=True)
class _Taken:
    """One buffer's facts; ``buffer`` is held (not yet handed back to the driver) only for complete frames."""

    buffer: Any
    stream: Any
    camera_id: int
    camera_ts: int
    captured_at: float
    captured_mono: float
    arrived_mono: float
    status: str  # "success", or why the frame is incomplete
    settings_seq: int  # the settings application it was taken under (MIXED: while they changed)

    @property
    def complete(self) -> bool:
        return self.buffer is not None


class GenicamSource:
    """A ``FrameSource`` over one GenICam camera; ``read_for`` is what the acquire stage calls."""

    reconnects_itself = True

    def __init__(
        self,
        config: GenicamSourceConfig,
        name: str = "camera",
        recipe_settings: dict[str, CameraSettings] | None = None,
    ) -> None:
        self.config = config
        self.name = name
        self.reconnects = 0
        self._host: CameraHost | None = None
        self._recipe_settings = dict(recipe_settings or {})
        self._sm = CameraStateMachine(self._on_state)
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._camera: Any = None
        self._stream: Any = None
        self._found: arv.CameraInfo | None = None
        self._code: str | None = "NOT_OPEN"
        self._message = "not opened yet"
        self._connecting_since = 0.0
        self._lost_since: float | None = None
        self._next_attempt = 0.0
        self._backoff = config.reconnect_min_s
        self._ever_streamed = False
        self._ledger = FrameLedger()
        self._held: deque[_Taken] = deque()  # free run / software: at most one; hardware: arrival order
        self._frame_id = 0
        self._frames = 0
        self._settle = 0
        self._damaged_run = 0
        self._good_run = 0
        self._damaged = False
        self._period: float | None = None
        self._camera_period: float | None = None
        self._last_frame_mono: float | None = None
        self._applied: AppliedSettings | None = None
        self._settings_seq = 0
        # settings application -> (recipe, the values set): which parts a hardware-triggered frame may serve
        self._seq_settings: dict[int, tuple[str | None, dict]] = {}
        self._selected_recipe: str | None = None
        self._part_recipe: str | None = None  # the recipe of the part being read, while it is read
        self._settings_error: str | None = None
        self._failed_wanted: dict | None = None
        self._next_heartbeat = 0.0
        self._resent = 0
        self._missing_packets = 0
        self._temperature: float | None = None
        self._has_temperature = True
        self._trigger_latency: float | None = None
        self._health = HealthReporter(self._label(), config.temperature_max_c)
        self._pending_events: list[tuple[Severity, str, dict]] = []  # raised under the lock, sent outside
        self._settings_since = 0.0

    # ------------------------------------------------------------------ binding to a station
    def bind_station(self, host: CameraHost) -> None:
        """Per-recipe settings come from the station's recipes; events and audit rows go to it."""
        self._host = host

    def _settings_for(self, recipe: str | None) -> CameraSettings | None:
        if recipe is None:
            return None
        if self._host is not None:
            return self._host.camera_settings_for(recipe)
        return self._recipe_settings.get(recipe)

    def select_recipe(self, recipe: str | None) -> None:
        """For a source not bound to a station (a bench, a test): the recipe whose settings it keeps."""
        with self._cond:
            self._selected_recipe = recipe
            self._cond.notify_all()

    def _wanted_recipe(self) -> str | None:
        if self._part_recipe is not None:
            return self._part_recipe
        return self._host.recipe if self._host is not None else self._selected_recipe

    def _event(self, severity: Severity, message: str, **payload: object) -> None:
        log.log(logging.WARNING if severity != Severity.INFO else logging.INFO, "%s", message)
        if self._host is not None:
            self._host.event("camera", severity, message, camera=self.name, **payload)

    # ------------------------------------------------------------------ FrameSource
    def open(self) -> None:
        """Start the grabber (once) and wait until the camera streams (free run) or is armed (triggers)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"{self.name}-genicam", daemon=True)
            self._thread.start()
        deadline = time.monotonic() + self.config.open_timeout_s + 1.0
        with self._cond:
            while time.monotonic() < deadline:
                state = self._sm.state
                if state in _ALIVE:
                    return
                if state == CameraState.LOST and self._code in _FATAL_OPEN:
                    raise SourceError(self._code, self._message)
                self._cond.wait(_POLL_S)
        raise SourceError("OPEN_TIMEOUT", f"{self._label()}: not streaming in {self.config.open_timeout_s}s")

    def read(self, timeout: float) -> Frame:
        return self.read_for(None, timeout)

    def read_for(self, request: PartRequest | None, timeout: float) -> Frame:
        """The frame of this part (see the module's rules); raises SourceError or CorruptFrame."""
        deadline = time.monotonic() + timeout
        trigger_mono = request.requested_mono if request is not None else time.monotonic()
        fired: float | None = None
        try:
            with self._cond:
                if request is not None and self.config.trigger != "hardware":
                    # the picture is taken now: under this part's recipe, kept while it is read
                    self._part_recipe = request.recipe
                seq = self._wait_for_settings(deadline)
                camera = self._camera
                if self.config.trigger == "software":
                    self._drop_held("untriggered")  # a frame that was waiting is older than this part
            if self.config.trigger == "software":
                fired = self._fire_trigger(camera)  # not under the lock: a camera gone blocks for seconds
            camera = None  # while this part waits for its frame, a lost connection must be free to go
            with self._cond:
                recipe = request.recipe if request is not None else None
                taken = self._take(trigger_mono, fired, seq, recipe, deadline)
        finally:
            with self._cond:
                self._part_recipe = None
                self._cond.notify_all()
        return self._to_frame(taken, request, fired)

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.config.read_timeout_s + 3.0)
        self._thread = None
        with self._cond:
            alive = self._sm.state in _ALIVE
            self._drop_held("closed")
            camera, stream, self._camera, self._stream = self._camera, self._stream, None, None
            if self._sm.state != CameraState.CLOSED:
                self._sm.to(CameraState.CLOSED, "closed")
            self._code, self._message = "NOT_OPEN", f"{self._label()}: closed"
        if camera is not None:
            arv.release(camera, stream, stop=True, wait=alive)

    # ------------------------------------------------------------------ freshness and health
    @property
    def frame_period_s(self) -> float | None:
        return self._camera_period or self._period

    @property
    def frame_age_limit_s(self) -> float | None:
        """The oldest a frame may be at its part's trigger; None for software triggers (taken on demand)."""
        if self.config.max_frame_age_ms is None and self.config.trigger == "software":
            return None
        if self.config.max_frame_age_ms is None and self.config.trigger == "hardware":
            return 1.0
        return frame_age_limit_s(self.config.max_frame_age_ms, self.frame_period_s)

    @property
    def frame_timeout_s(self) -> float:
        return frame_timeout_s(self.config.frame_timeout_ms, self.frame_period_s, self.config.open_timeout_s)

    def counts(self) -> Any:
        with self._cond:
            return self._ledger.counts()

    def status(self) -> GenicamStatus:
        now = time.monotonic()
        with self._cond:
            self._check_starved(now)
            state = self._sm.state
            age = None if self._last_frame_mono is None else now - self._last_frame_mono
            ok = first_connect_grace(
                state, self._ever_streamed, self._connecting_since, self.config.open_timeout_s, now
            )
            counts = self._ledger.counts()
            if ok and self._settings_error is not None:
                ok, code, message = False, "CAMERA_SETTINGS", self._settings_error
            elif ok:
                code = None
                message = f"{self._label()}: {state}; {summary(counts, self._resent, self._temperature)}"
            else:
                code, message = self._code or STATE_CODES.get(state), self._message
            return GenicamStatus(
                state=state, ok=ok, code=code, message=message, frames=self._frames,
                fps=None if not self._period else round(1.0 / self._period, 2),
                last_frame_age_s=age, reconnects=self.reconnects, ledger=counts,
                resent_packets=self._resent, missing_packets=self._missing_packets,
                temperature_c=self._temperature,
                trigger_latency_ms=None if self._trigger_latency is None else self._trigger_latency * 1000,
                camera="" if self._found is None else f"{self._found.model} {self._found.serial}".strip(),
            )  # fmt: skip

    # ------------------------------------------------------------------ read_for, under the lock
    def _raise_if_unusable(self) -> None:
        self._check_starved(time.monotonic())
        state = self._sm.state
        if state not in _ALIVE or state == CameraState.FROZEN:
            raise SourceError(self._code or STATE_CODES[state], self._message)
        if state == CameraState.DAMAGED:
            raise SourceError("DAMAGED_FRAMES", self._message)
        if self._settings_error is not None:
            raise SourceError("CAMERA_SETTINGS", self._settings_error)

    def _wait_for_settings(self, deadline: float) -> int:
        """Until the grabber has applied the settings of the part's recipe; returns their sequence number.
        A hardware-triggered part's picture was taken when it passed: its frame is checked instead."""
        self._cond.notify_all()
        while True:
            self._raise_if_unusable()
            if self.config.trigger == "hardware":
                return self._settings_seq
            applied = self._applied
            wanted = self._wanted_recipe()
            if applied is not None and not applied.needs(wanted, self._wanted_values(wanted)):
                return self._settings_seq
            if applied is not None and self._failed_wanted == self._wanted_values(wanted):
                raise SourceError("CAMERA_SETTINGS", self._settings_error or "camera settings refused")
            if not self._wait(deadline):
                raise SourceError("READ_TIMEOUT", f"{self._label()}: camera settings not applied in time")

    def _wanted_values(self, recipe: str | None) -> dict:
        return effective(self.config.base_settings(), self._settings_for(recipe))

    def _fire_trigger(self, camera: Any) -> float:
        if camera is None:
            raise SourceError(self._code or "DISCONNECTED", self._message)
        fired = time.monotonic()
        try:
            camera.software_trigger()  # Aravis serialises device access; the grabber only pops buffers
        except arv.glib_error() as exc:  # the link is gone
            message = f"{self._label()}: TriggerSoftware: {arv.error_text(exc)}"
            raise SourceError("TRIGGER_FAILED", message) from None
        return fired

    def _take(
        self, trigger_mono: float, fired: float | None, seq: int, recipe: str | None, deadline: float
    ) -> _Taken:
        mode = self.config.trigger
        limit = self.frame_age_limit_s
        while True:
            self._raise_if_unusable()
            if mode == "hardware":
                while self._held and limit is not None and self._held[0].captured_mono < trigger_mono - limit:
                    self._drop_first("unmatched")
                if self._held:
                    first = self._held[0]
                    under, values = self._seq_settings.get(first.settings_seq, (None, None))
                    if recipe is not None and values != self._wanted_values(recipe):
                        self._drop_first("settings")
                        why = "while camera settings changed" if values is None else (
                            f"under the camera settings of recipe {under}")
                        raise CorruptFrame(self._origin(first), f"exposed {why}, not under {recipe}'s",
                                           code="CAMERA_SETTINGS")  # fmt: skip
                    return self._held.popleft()
            elif self._held:
                newest = self._held[-1]
                if fired is not None and newest.arrived_mono < fired:
                    self._drop_held("untriggered")
                elif newest.settings_seq != seq:
                    self._drop_held("settings")
                else:
                    return self._held.pop()
            if not self._wait(deadline):
                what = "after TriggerSoftware " if fired is not None else ""
                raise SourceError("READ_TIMEOUT", f"{self._label()}: no frame {what}within the read timeout")

    def _wait(self, deadline: float) -> bool:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self._cond.wait(min(left, _POLL_S))
        return True

    def _to_frame(self, taken: _Taken, request: PartRequest | None, fired: float | None) -> Frame:
        """Outside the lock: the pixels are copied out and the buffer goes back to the driver."""
        origin = self._origin(taken, request, fired)
        if not taken.complete:
            raise CorruptFrame(origin, f"frame incomplete ({taken.status})")
        buf = taken.buffer
        try:
            data = buf.get_data()
            code, width, height = buf.get_image_pixel_format(), buf.get_image_width(), buf.get_image_height()
            padding = buf.get_image_padding()[0]
        finally:
            taken.stream.push_buffer(buf)
        with self._cond:
            self._ledger.delivered()
            self._frame_id += 1
            frame_id = self._frame_id
            if fired is not None:
                self._trigger_latency = taken.arrived_mono - fired
        try:
            image = to_bgr(data, code, width, height, padding)
        except PixelDataError as exc:
            raise CorruptFrame(origin, str(exc)) from None
        return Frame(
            frame_id=frame_id, image=image, source=self.name, captured_at=taken.captured_at,
            captured_mono=taken.captured_mono, origin=origin,
        )  # fmt: skip

    def _origin(self, taken: _Taken, request: PartRequest | None = None, fired: float | None = None) -> str:
        """The record's link between the part and the camera's own frame: id, camera time, how matched."""
        who = self._found.serial if self._found and self._found.serial else self.config.camera
        text = f"genicam:{who} frame {taken.camera_id} camera time {taken.camera_ts} ns"
        if request is None:
            return text
        if fired is not None:
            return text + (f"; TriggerSoftware for trigger {request.trigger_id}, frame "
                           f"{(taken.arrived_mono - fired) * 1000:.1f} ms after it")  # fmt: skip
        rel = (taken.captured_mono - request.requested_mono) * 1000
        how = "hardware trigger" if self.config.trigger == "hardware" else "newest frame"
        return text + f"; {how} matched to trigger {request.trigger_id} ({rel:+.1f} ms from it)"

    def _drop_first(self, reason: str) -> None:
        taken = self._held.popleft()
        self._give_back(taken, reason)

    def _drop_held(self, reason: str) -> None:
        while self._held:
            self._drop_first(reason)

    def _give_back(self, taken: _Taken, reason: str) -> None:
        if taken.complete:
            self._ledger.dropped(reason)
            taken.stream.push_buffer(taken.buffer)

    # ------------------------------------------------------------------ grabber thread
    def _label(self) -> str:
        return f"camera {self.name} ({self.config.camera})"

    def _on_state(self, old: CameraState, new: CameraState, why: str) -> None:
        level = logging.INFO if new in (CameraState.STREAMING, CameraState.CONNECTING) else logging.WARNING
        log.log(level, "%s: %s -> %s (%s)", self._label(), old, new, why)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._flush_events()
            if self._camera is not None and self._sm.state == CameraState.LOST:  # NO_FRAMES: reconnect
                self._lose(self._code or "NO_FRAMES", "no frame within the frame timeout")
                continue
            if self._camera is None:
                wait = self._next_attempt - time.monotonic()
                if wait > 0:
                    self._stop.wait(min(wait, _POLL_S))
                    continue
                self._connect()
                continue
            self._apply_settings()
            self._heartbeat()
            self._grab_once()

    def _grab_once(self) -> None:
        """One buffer, or a poll period without. A method of its own so that no local of this loop keeps a
        lost stream alive: its release must be over before the next connection opens (``_lose``)."""
        stream = self._stream
        if stream is None:
            return
        buf = stream.timeout_pop_buffer(int(_POLL_S * 1_000_000))
        if buf is None:
            with self._cond:
                self._check_starved(time.monotonic())
            return
        self._on_buffer(buf, stream)

    def _flush_events(self) -> None:
        with self._cond:
            events, self._pending_events = self._pending_events, []
        for severity, message, payload in events:
            self._event(severity, message, **payload)

    def _connect(self) -> None:
        with self._cond:
            if self._sm.state in (CameraState.CLOSED, CameraState.LOST):
                self._sm.to(CameraState.CONNECTING, "opening")
            self._connecting_since = time.monotonic()
        cfg = self.config
        applied = AppliedSettings(cfg.base_settings())
        with self._cond:
            recipe = self._wanted_recipe()
            wanted = self._wanted_values(recipe)
        changes: list[SettingChange] = []
        error: str | None = None
        try:
            camera = self._open()
            arv.configure(camera, cfg)
            try:  # the recipe's settings before the first frame: no frame of this connection predates them
                changes = applied.apply(recipe, wanted, lambda n, v: arv.set_feature(camera, n, v))
            except arv.FeatureError as exc:
                error = f"{self._label()}: camera settings of recipe {recipe}: {exc}"
            period = _camera_period(camera) if cfg.trigger == "free_run" else None
            stream = arv.create_stream(camera, cfg)
        except arv.AravisUnavailable as exc:
            self._lose("NO_ARAVIS", str(exc))
            return
        except arv.CameraNotFound as exc:
            self._lose("NOT_FOUND", str(exc))
            return
        except arv.FeatureError as exc:
            code = "OPEN_FAILED" if str(exc).startswith(("cannot open", "streaming")) else "CONFIG_REFUSED"
            self._lose(code, str(exc))
            return
        with self._cond:
            if self._stop.is_set():
                arv.release(camera, stream, stop=True, wait=False)
                return
            self._camera, self._stream = camera, stream
            self._camera_period = period
            self._ledger.start_session()
            self._applied = applied
            self._new_settings(recipe, applied.values, 0.0)
            self._failed_wanted = wanted if error else None
            self._settings_error = error
            self._settle = 0
            self._last_frame_mono = None
            self._next_heartbeat = 0.0
            self._code, self._message = "CONNECTING", f"{self._label()}: connected, waiting for frames"
            if cfg.trigger != "free_run":  # armed: frames come only with triggers
                self._streaming("armed")
            self._cond.notify_all()
        self._report_settings(recipe, changes, error, "connect")

    def _open(self) -> Any:
        """Open the camera found before by its address (GigE Vision) or id: quick, and a camera that comes
        back is answered within half a second; a full search only when that fails."""
        cfg = self.config
        found = self._found
        if found is None:
            found = arv.find_camera(cfg.camera, cfg.interfaces)
        target = found.address if found.protocol == "GigEVision" else found.device_id
        try:
            camera = arv.open_camera(target, cfg.interfaces)
        except arv.FeatureError:
            if self._found is not None:
                self._found = None  # perhaps at another address now: search again next time
            raise
        serial = str(camera.get_device_serial_number() or "")
        if found.serial and serial and serial != found.serial:
            arv.release(camera, None, stop=False, wait=False)
            self._found = None
            raise arv.CameraNotFound(f"camera at {target} is serial {serial}, not {found.serial}")
        self._found = found
        return camera

    def _streaming(self, why: str) -> None:
        """Under the lock: the camera delivers (or is armed) again."""
        if self._sm.state == CameraState.CONNECTING and self._ever_streamed:
            self.reconnects += 1
            away = time.monotonic() - (self._lost_since or time.monotonic())
            self._pending_events.append((
                Severity.INFO, f"{self._label()}: back after {away:.1f}s (reconnect {self.reconnects})",
                {"reconnects": self.reconnects, "away_s": round(away, 3)},
            ))  # fmt: skip
        self._ever_streamed = True
        self._lost_since = None
        self._code = None
        self._backoff = self.config.reconnect_min_s
        self._sm.to(CameraState.STREAMING, why)

    def _lose(self, code: str, message: str) -> None:
        """Drop the connection and schedule a reconnect with backoff. On the grabber thread: the old
        connection is gone (``arv.release`` says why it must be) before a new one opens."""
        with self._cond:
            camera, stream, self._camera, self._stream = self._camera, self._stream, None, None
            self._drop_held("lost")
            retry = self._backoff
            self._next_attempt = time.monotonic() + retry
            self._backoff = min(self._backoff * 2, self.config.reconnect_max_s)
            self._code = code
            self._message = f"{self._label()}: {message} (retry in {retry:.2f}s)"
            if self._lost_since is None:
                self._lost_since = time.monotonic()
            if self._sm.state != CameraState.CLOSED:
                self._sm.to(CameraState.LOST, message)
            self._cond.notify_all()
        if camera is not None:
            arv.release(camera, stream, stop=False, wait=True)

    def _check_starved(self, now: float) -> None:
        """Under the lock: in free run, no frame for the frame timeout is a lost camera."""
        if self.config.trigger != "free_run" or self._sm.state not in _ALIVE or self._last_frame_mono is None:
            return
        silent = now - self._last_frame_mono
        if silent > self.frame_timeout_s:
            self._code = "NO_FRAMES"
            limit = self.frame_timeout_s
            self._message = f"{self._label()}: no frame for {silent:.1f}s (frame timeout {limit:g}s)"
            self._drop_held("lost")
            self._sm.to(CameraState.LOST, "no frames")
            if self._lost_since is None:
                self._lost_since = now
            self._next_attempt = now  # the grabber drops the link and reconnects at once
            self._cond.notify_all()

    def _on_buffer(self, buf: Any, stream: Any) -> None:
        aravis = arv.load_aravis()
        now, wall = time.monotonic(), time.time()
        status = buf.get_status()
        complete = status == aravis.BufferStatus.SUCCESS
        system_ns = buf.get_system_timestamp()
        captured_at = system_ns / 1e9 if system_ns else wall
        captured_mono = now - max(0.0, wall - captured_at)  # the host's clock when the frame began to arrive
        with self._cond:
            if self._sm.state == CameraState.LOST:  # frames after a NO_FRAMES verdict: reconnect anyway
                stream.push_buffer(buf)
                return
            gap = self._ledger.arrived(buf.get_frame_id(), complete)
            if gap < 0:
                stream.push_buffer(buf)
                return
            taken = _Taken(
                buffer=buf if complete else None, stream=stream, camera_id=buf.get_frame_id(),
                camera_ts=buf.get_timestamp(), captured_at=captured_at,
                captured_mono=captured_mono, arrived_mono=now, status=status.value_nick,
                settings_seq=self._frame_settings_seq(captured_mono),
            )  # fmt: skip
            if not complete:
                stream.push_buffer(buf)
            self._count_frame(now, complete)
            if self.config.trigger == "hardware":
                self._held.append(taken)
                while len(self._held) > max(1, self.config.buffers - 2):  # the driver keeps the rest
                    self._drop_first("overflow")
            else:
                self._drop_held("superseded")
                self._held.append(taken)
            self._cond.notify_all()

    def _frame_settings_seq(self, captured_mono: float) -> int:
        """Under the lock: the settings a frame was taken under. A camera may be exposing a frame while its
        settings change: in free run one frame period after a change, with a hardware trigger 50 ms, is
        MIXED. Software triggers fire after the change, so their frames are never mixed."""
        margins = {"free_run": self.frame_period_s or 0.0, "hardware": _HARDWARE_MARGIN_S, "software": 0.0}
        if captured_mono < self._settings_since + margins[self.config.trigger]:
            return MIXED
        return self._settings_seq

    def _count_frame(self, now: float, complete: bool) -> None:
        """Under the lock: frame rate, damaged runs, and the state they lead to."""
        if self._last_frame_mono is not None:
            gap = now - self._last_frame_mono
            self._period = gap if self._period is None else 0.9 * self._period + 0.1 * gap
        self._last_frame_mono = now
        self._frames += 1
        cfg = self.config
        if complete:
            self._damaged_run, self._good_run = 0, self._good_run + 1
        else:
            self._damaged_run, self._good_run = self._damaged_run + 1, 0
        if not self._damaged and self._damaged_run >= cfg.stale_after:
            self._damaged = True
            self._code = "DAMAGED_FRAMES"
            self._message = f"{self._label()}: {self._damaged_run} incomplete frames in a row"
        elif self._damaged and self._good_run >= cfg.stale_clear_after:
            self._damaged = False
            log.info("%s: frames complete again (%d in a row)", self._label(), self._good_run)
        self._settle += 1
        if self._damaged:
            if self._sm.state in (CameraState.STREAMING, CameraState.CONNECTING):
                self._sm.to(CameraState.DAMAGED, "incomplete frames")
        elif self._sm.state == CameraState.DAMAGED or (
            self._sm.state == CameraState.CONNECTING and self._settle >= SETTLE_FRAMES
        ):
            self._streaming("frames arriving")

    # ------------------------------------------------------------------ settings and heartbeat (grabber)
    def _apply_settings(self) -> None:
        with self._cond:
            applied, camera = self._applied, self._camera
            recipe = self._wanted_recipe()
            wanted = self._wanted_values(recipe)
            if applied is None or camera is None or not applied.needs(recipe, wanted):
                return
            if wanted == self._failed_wanted:
                return
            if wanted == applied.values:  # another recipe with the same settings: nothing to write
                applied.recipe = recipe
                self._seq_settings[self._settings_seq] = (recipe, dict(wanted))
                return
        changes: list[SettingChange] = []
        error: str | None = None
        try:
            changes = applied.apply(recipe, wanted, lambda n, v: arv.set_feature(camera, n, v))
        except arv.FeatureError as exc:
            error = f"{self._label()}: camera settings of recipe {recipe}: {exc}"
        with self._cond:
            self._new_settings(recipe, wanted, time.monotonic())
            self._settings_error = error
            self._failed_wanted = wanted if error else None
            self._cond.notify_all()
        self._report_settings(recipe, changes, error, "changeover")

    def _new_settings(self, recipe: str | None, values: dict, since: float) -> None:
        """Under the lock: frames from ``since`` on are taken under ``recipe``'s settings, ``values``."""
        self._settings_seq += 1
        self._settings_since = since
        self._seq_settings[self._settings_seq] = (recipe, dict(values))
        for old in [k for k in self._seq_settings if k < self._settings_seq - 64]:
            del self._seq_settings[old]

    def _report_settings(self, recipe: str | None, changes: list[SettingChange], error: str | None,
                         why: str) -> None:
        old = {c.feature: c.old for c in changes}
        new = {c.feature: c.new for c in changes}
        if error is not None:
            self._event(Severity.ERROR, error, recipe=recipe, old=old, new=new)
        if not changes:
            return
        text = ", ".join(f"{c.feature} {c.old} -> {c.new}" for c in changes)
        self._event(Severity.INFO, f"{self._label()}: settings of recipe {recipe} applied ({why}): {text}",
                    recipe=recipe, old=old, new=new)  # fmt: skip
        if self._host is not None and recipe is not None:
            self._host.audit("station", "system", "camera.settings", recipe, old, new)

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now < self._next_heartbeat:
            return
        self._next_heartbeat = now + self.config.heartbeat_s
        camera, stream = self._camera, self._stream
        try:
            camera.get_payload()  # a register read: fails when the link is gone, frames or not
        except arv.glib_error() as exc:  # the camera does not answer
            self._lose("DISCONNECTED", f"does not answer ({arv.error_text(exc)})")
            return
        temperature = self._read_temperature(camera)
        counters = arv.stream_counters(stream)
        with self._cond:
            self._resent = counters.get("n_resent_packets", 0)
            self._missing_packets = counters.get("n_missing_packets", 0)
            self._temperature = temperature
            counts = self._ledger.counts()
        for event in self._health.check(counts, self._resent, temperature):
            self._event(event.severity, event.message, **event.payload)

    def _read_temperature(self, camera: Any) -> float | None:
        if not self._has_temperature:
            return None
        text = arv.read_feature(camera, self.config.temperature_feature)
        if text is None:
            self._has_temperature = False  # asked once per connection is enough for a camera without one
            return None
        try:
            return float(text)
        except ValueError:
            return None


def _camera_period(camera: Any) -> float | None:
    try:
        rate = float(camera.get_frame_rate())
    except arv.glib_error():  # a camera without AcquisitionFrameRate: the measured period is used
        return None
    return 1.0 / rate if rate > 0 else None

