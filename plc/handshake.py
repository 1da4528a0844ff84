"""The flat PLC handshake, as a state machine that knows nothing of OPC UA.

The PLC writes ``PartId`` and a rising edge on ``Trigger``; the station sets ``Busy``; only once the result is
committed to SQLite does it write ``Pass``/``Fail``, ``ResultCode``, ``ResultPartId`` and then
``ResultValid``; the PLC writes ``Ack`` and the station clears ``ResultValid``. A rising ``Trigger`` while a
part is pending or its result is unacknowledged is a missed trigger: counted, raised as ``FaultCode``
MISSED_TRIGGER and reported, never dropped silently. See docs/plc-handshake.md for the timing diagram.

Every method returns the output changes to write, in order (data before ``ResultValid``); the server and the
client modes only carry them over the wire. Only the link's event-loop thread calls these methods.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inspect_app.state import StationState
from inspect_app.types import CommittedInspection, PartRequest, Verdict
from plc.defects import counted_defects

if TYPE_CHECKING:
    from inspect_app.station import Station

Changes = list[tuple[str, object]]


class ResultCode(enum.IntEnum):
    NONE = 0
    PASS = 1
    FAIL = 2
    NOT_INSPECTED = 3


class FaultCode(enum.IntEnum):
    NONE = 0
    MISSED_TRIGGER = (
        1  # Trigger rose while Busy or while ResultValid waited for Ack: that part is not inspected
    )
    ACK_TIMEOUT = 2  # ResultValid was not acknowledged within handshake.ack_timeout_s
    NOT_READY = 3  # Trigger rose while the vision system was Halted/Preoperational or stopped
    STATION_ERROR = 4  # the station is in Error (clears itself when the station leaves Error)
    LINK_LOST = 5  # client mode: results were produced while the link to the PLC was down


RESULT_CODES = {
    Verdict.PASS: ResultCode.PASS,
    Verdict.FAIL: ResultCode.FAIL,
    Verdict.NOT_INSPECTED: ResultCode.NOT_INSPECTED,
}


def result_outputs(committed: CommittedInspection) -> Changes:
    """The result tags of one committed inspection, in write order (ResultValid is not among them)."""
    insp = committed.inspection
    return [
        ("Pass", insp.verdict == Verdict.PASS),
        ("Fail", insp.verdict == Verdict.FAIL),
        ("ResultCode", int(RESULT_CODES[insp.verdict])),
        ("ResultPartId", insp.part_id),
        ("ResultId", str(committed.inspection_id)),
        ("DefectCount", len(counted_defects(insp))),
        ("DetectionCount", len(insp.detections)),
    ]


@dataclass
class Fault:
    code: FaultCode
    text: str


class FlatHandshake:
    """``trigger(part_id)`` asks the station for an inspection and returns its PartRequest (it may raise
    RuntimeError when the station cannot take it). ``hold_until_ack``: the server mode keeps one result in
    ResultValid until Ack; the client mode hands results to its outbox instead and only gates triggers."""

    def __init__(
        self,
        trigger: Callable[[str | None], PartRequest],
        *,
        ack_timeout_s: float,
        hold_until_ack: bool = True,
        clock: Callable[[], float] = time.monotonic,
        on_missed: Callable[[str | None, str, str], None] | None = None,
    ) -> None:
        self._trigger = trigger
        self.on_missed = on_missed
        self.ack_timeout_s = ack_timeout_s
        self.hold_until_ack = hold_until_ack
        self._clock = clock
        self.trigger_level = False
        self.ack_level = False
        self.fault_reset_level = False
        self.part_id = ""
        self.pending: PartRequest | None = None
        self.result_valid = False
        self._valid_since = 0.0
        self.fault = Fault(FaultCode.NONE, "")
        self.missed = 0
        self.last_missed_part = ""
        self.ack_latency_s: float | None = None  # of the last acknowledged result
        self._ready: bool | None = None  # as last written

    # ------------------------------------------------------------------ PLC inputs
    def set_part_id(self, part_id: str) -> None:
        self.part_id = (part_id or "").strip()

    def on_trigger(self, level: bool, accepting: bool, why_not: str = "not operational") -> Changes:
        rising = level and not self.trigger_level
        self.trigger_level = level
        if not rising:
            return []
        part = self.part_id or None
        if self.pending is not None or (self.hold_until_ack and self.result_valid):
            busy_with = self.pending.part_id if self.pending else "an unacknowledged result"
            return self._missed(FaultCode.MISSED_TRIGGER, part, f"trigger while busy with {busy_with}")
        if not accepting:
            return self._missed(FaultCode.NOT_READY, part, why_not)
        try:
            request = self._trigger(part)
        except RuntimeError as exc:  # NotRunning: the station is stopping
            return self._missed(FaultCode.NOT_READY, part, str(exc))
        self.pending = request
        changes: Changes = [("Busy", True)]
        if self.hold_until_ack:  # the previous verdict must not be read as this part's
            changes += [("Pass", False), ("Fail", False), ("ResultCode", int(ResultCode.NONE))]
        return changes + self._ready_change(accepting)

    def on_ack(self, level: bool, accepting: bool) -> Changes:
        rising = level and not self.ack_level
        self.ack_level = level
        if not rising or not self.result_valid:
            return []  # an Ack with no result waiting changes nothing
        self.result_valid = False
        self.ack_latency_s = self._clock() - self._valid_since
        changes: Changes = [("ResultValid", False)]
        if self.fault.code == FaultCode.ACK_TIMEOUT:
            changes += self.clear_fault()  # the late Ack came after all: the cause is gone
        return changes + self._ready_change(accepting)

    def on_fault_reset(self, level: bool) -> Changes:
        rising = level and not self.fault_reset_level
        self.fault_reset_level = level
        return self.clear_fault() if rising else []

    # ------------------------------------------------------------------ station side
    def on_result(self, committed: CommittedInspection, accepting: bool) -> Changes:
        """Called only for committed rows. Returns nothing for results this handshake did not trigger."""
        if self.pending is None or committed.inspection.trigger_id != self.pending.trigger_id:
            return []
        self.pending = None
        changes: Changes = [("Busy", False)]
        if self.hold_until_ack:
            self.result_valid = True
            self._valid_since = self._clock()
            changes = result_outputs(committed) + changes + [("ResultValid", True)]
        return changes + self._ready_change(accepting)

    def tick(self, accepting: bool, station_error: str | None) -> Changes:
        """Periodic: ack timeout, the station's Error as a fault, and Ready."""
        changes: Changes = []
        now = self._clock()
        if (
            self.hold_until_ack
            and self.result_valid
            and now - self._valid_since > self.ack_timeout_s
            and self.fault.code != FaultCode.ACK_TIMEOUT
        ):
            changes += self.raise_fault(
                FaultCode.ACK_TIMEOUT, f"ResultValid not acknowledged within {self.ack_timeout_s:g}s"
            )
        if station_error and self.fault.code in (FaultCode.NONE, FaultCode.STATION_ERROR):
            if self.fault.text != station_error:
                changes += self.raise_fault(FaultCode.STATION_ERROR, station_error)
        elif not station_error and self.fault.code == FaultCode.STATION_ERROR:
            changes += self.clear_fault()
        return changes + self._ready_change(accepting)

    def abandon_pending(self) -> None:
        """The pending part's result will not come back through this handshake (link restarted)."""
        self.pending = None

    # ------------------------------------------------------------------ faults
    def raise_fault(self, code: FaultCode, text: str) -> Changes:
        self.fault = Fault(code, text)
        return [("FaultCode", int(code)), ("FaultText", text), ("Fault", True)]

    def clear_fault(self) -> Changes:
        if self.fault.code == FaultCode.NONE:
            return []
        self.fault = Fault(FaultCode.NONE, "")
        return [("Fault", False), ("FaultCode", 0), ("FaultText", "")]

    def _missed(self, code: FaultCode, part: str | None, why: str) -> Changes:
        self.missed += 1
        self.last_missed_part = part or ""
        text = f"part {part or '(no PartId)'} not inspected: {why}"
        if self.on_missed is not None:  # the part also goes into results.db as NOT_INSPECTED
            self.on_missed(part, code.name, text)
        return [
            ("MissedTriggers", self.missed),
            ("LastMissedPartId", self.last_missed_part),
            *self.raise_fault(code, text),
        ]

    def forget_outputs(self) -> None:
        """The other side lost its copy of the outputs (a PLC restart): Ready is written again next time."""
        self._ready = None

    def ready(self, accepting: bool) -> bool:
        return accepting and self.pending is None and not (self.hold_until_ack and self.result_valid)

    def _ready_change(self, accepting: bool) -> Changes:
        ready = self.ready(accepting)
        if ready == self._ready:
            return []
        self._ready = ready
        return [("Ready", ready)]


def station_fault_text(station: Station) -> str | None:
    """What the PLC's FaultText says while the station is in Error: its code and why, as the health snapshot
    (and the operator's status light) says it; None when the station is not in Error."""
    if station.state != StationState.ERROR:
        return None
    code = station.error_code or "STATION_ERROR"
    text = station.error_text
    return f"{code}: {text}"[:240] if text else code
