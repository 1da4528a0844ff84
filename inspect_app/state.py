"""The station's state machine, with its allowed transitions written down.

Names follow the OPC UA Machine Vision VisionStateMachine (OPC 40100-1) so the state the PLC and the
operator see is the real one: Preoperational while loading, Operational (Ready / Continuous) while
inspecting, Error until reset, Halted when stopped.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable


class StationState(enum.StrEnum):
    PREOPERATIONAL = "Preoperational"
    READY = "Ready"  # Operational, waiting for triggers
    CONTINUOUS = "ContinuousExecution"  # Operational, free-running
    ERROR = "Error"
    HALTED = "Halted"

    @property
    def operational(self) -> bool:
        return self in (StationState.READY, StationState.CONTINUOUS)


_S = StationState
ALLOWED: dict[StationState, frozenset[StationState]] = {
    _S.PREOPERATIONAL: frozenset({_S.READY, _S.CONTINUOUS, _S.ERROR, _S.HALTED}),
    _S.READY: frozenset({_S.CONTINUOUS, _S.ERROR, _S.HALTED}),
    _S.CONTINUOUS: frozenset({_S.READY, _S.ERROR, _S.HALTED}),
    _S.ERROR: frozenset({_S.READY, _S.CONTINUOUS, _S.HALTED}),
    _S.HALTED: frozenset({_S.PREOPERATIONAL}),
}


class IllegalTransition(RuntimeError):
    pass


class StateMachine:
    def __init__(self, on_change: Callable[[StationState, StationState, str], None]) -> None:
        self._state = StationState.HALTED
        self._lock = threading.Lock()
        self._on_change = on_change
        self.error_code: str | None = None

    @property
    def state(self) -> StationState:
        return self._state

    def to(self, new: StationState, why: str, error_code: str | None = None) -> bool:
        """Move to ``new``; a no-op (False) when already there. Raises on a transition not listed."""
        with self._lock:
            old = self._state
            if new == old:
                return False
            if new not in ALLOWED[old]:
                raise IllegalTransition(f"{old} -> {new} is not allowed ({why})")
            self._state = new
            self.error_code = error_code if new == StationState.ERROR else None
        self._on_change(old, new, why)
        return True
