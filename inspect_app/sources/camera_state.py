"""The state of a live camera, with its allowed transitions written down, and the status it reports.

A live camera (a stream, a USB device) is grabbed continuously by a thread of its own, so its state changes
whether or not the station is asking for a frame. The supervisor reads ``SourceStatus`` a few times a
second: that is how a camera loss becomes an Error within a second even when no part is being triggered.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass


class CameraState(enum.StrEnum):
    CLOSED = "closed"
    CONNECTING = "connecting"  # opening, or reconnected and not yet delivering settled frames
    STREAMING = "streaming"
    FROZEN = "frozen"  # frames arrive but the picture does not change (a stalled encoder)
    DAMAGED = "damaged"  # frames arrive but do not decode (a lossy link, a failing encoder)
    LOST = "lost"  # no connection, or no frame for longer than the frame timeout


_C = CameraState
ALLOWED: dict[CameraState, frozenset[CameraState]] = {
    _C.CLOSED: frozenset({_C.CONNECTING}),
    _C.CONNECTING: frozenset({_C.STREAMING, _C.FROZEN, _C.DAMAGED, _C.LOST, _C.CLOSED}),
    _C.STREAMING: frozenset({_C.FROZEN, _C.DAMAGED, _C.LOST, _C.CLOSED}),
    # like a frozen picture: it ends only with ``stale_clear_after`` good frames in a row
    _C.DAMAGED: frozenset({_C.STREAMING, _C.FROZEN, _C.LOST, _C.CLOSED}),
    # a frozen picture ends only with enough new frames; a reconnect keeps it frozen (LOST -> CONNECTING ->
    # FROZEN), so the Error it raised cannot flap off and on with every reconnect
    _C.FROZEN: frozenset({_C.STREAMING, _C.DAMAGED, _C.LOST, _C.CLOSED}),
    _C.LOST: frozenset({_C.CONNECTING, _C.CLOSED}),
}

# the error code a part gets while the camera is in this state
STATE_CODES: dict[CameraState, str] = {
    _C.CLOSED: "NOT_OPEN",
    _C.CONNECTING: "CONNECTING",
    _C.FROZEN: "STALE",
    _C.DAMAGED: "DAMAGED_FRAMES",
    _C.LOST: "DISCONNECTED",
}


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One snapshot of a source's health, for the supervisor, the status lights and the PLC."""

    state: CameraState
    ok: bool  # the source can deliver a fresh frame now
    code: str | None  # why not (DISCONNECTED, STALE, NO_FRAMES, READ_FAILED, OPEN_FAILED, ...)
    message: str
    frames: int  # frames grabbed since open
    fps: float | None  # measured
    last_frame_age_s: float | None
    reconnects: int


class CameraStateMachine:
    """Thread-safe; ``on_change(old, new, why)`` runs outside the lock."""

    def __init__(self, on_change: Callable[[CameraState, CameraState, str], None] | None = None) -> None:
        self._state = CameraState.CLOSED
        self._lock = threading.Lock()
        self._on_change = on_change
        self.why = ""

    @property
    def state(self) -> CameraState:
        return self._state

    def to(self, new: CameraState, why: str) -> bool:
        with self._lock:
            old = self._state
            if new == old:
                return False
            if new not in ALLOWED[old]:
                raise RuntimeError(f"camera {old} -> {new} is not allowed ({why})")
            self._state, self.why = new, why
        if self._on_change is not None:
            self._on_change(old, new, why)
        return True


def frame_age_limit_s(max_frame_age_ms: float | None, period_s: float | None) -> float:
    """The oldest a frame may be at its part's trigger: the configured limit, else 3 frame periods (at least
    0.15 s), else 1 s while the camera's rate is unknown. One rule for every live camera kind."""
    if max_frame_age_ms is not None:
        return max_frame_age_ms / 1000.0
    return 1.0 if period_s is None else max(3 * period_s, 0.15)


def frame_timeout_s(frame_timeout_ms: float | None, period_s: float | None, open_timeout_s: float) -> float:
    """How long a streaming camera may stay silent before it counts as lost: the configured timeout, else 3
    frame periods (at least 0.5 s), else the open timeout while the rate is unknown."""
    if frame_timeout_ms is not None:
        return frame_timeout_ms / 1000.0
    return open_timeout_s if period_s is None else max(3 * period_s, 0.5)


def first_connect_grace(
    state: CameraState, ever_streamed: bool, connecting_since: float, open_timeout_s: float, now: float
) -> bool:
    """Whether a camera counts as healthy: streaming, or on its first connection within the open timeout.
    A reconnect gets no such grace, so the Error of a loss stays until frames come again (hysteresis)."""
    return state == CameraState.STREAMING or (
        state == CameraState.CONNECTING and not ever_streamed and now - connecting_since <= open_timeout_s + 1
    )
