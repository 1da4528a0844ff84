"""Client mode's four-phase delivery to the PLC, as a state machine that knows nothing of OPC UA.

One result at a time, in outbox order::

    IDLE            ResultValid low, Ack low      -> write the result tags, ResultSeq, then ResultValid high
    AWAIT_ACK(seq)  ResultValid high for ``seq``  -> the PLC takes it: Ack high (and AckSeq = seq)
                                                   -> mark it delivered, write ResultValid low
    AWAIT_ACK_DROP  ResultValid low, Ack high     -> the PLC drops Ack -> IDLE

After every (re)connect the phase is not remembered but *read* from the PLC (:func:`resume`): a cut can
leave any combination of ResultValid, Ack, AckSeq and ResultSeq in the PLC's tags (a frozen PLC keeps them,
a restarted one keeps only its retentive AckSeq), and every one of them leads on to IDLE without sending a
result the PLC already confirmed. The one thing a station must never do is wait for an Ack to drop while it
still holds ResultValid high: a four-phase PLC drops Ack only after ResultValid fell, so both would wait
forever (issue 10, point 4).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Phase(enum.Enum):
    IDLE = "idle"
    AWAIT_ACK = "await_ack"
    AWAIT_ACK_DROP = "await_ack_drop"


@dataclass(frozen=True, slots=True)
class PlcView:
    """The handshake tags as read from the PLC; None where the tag is not configured."""

    result_valid: bool
    ack: bool
    ack_seq: int | None = None
    result_seq: int | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    phase: Phase
    seq: int | None = None  # AWAIT_ACK: the result the PLC holds and has not taken yet
    delivered_up_to: int | None = None  # results up to this one (that were sent) are at the PLC
    clear_result_valid: bool = False  # write ResultValid low first
    why: str = ""


def taken(view: PlcView, seq: int) -> bool:
    """Has the PLC taken result ``seq``? AckSeq, where the PLC has one, is the authority (it is written
    before Ack and survives the PLC's restarts); without it, Ack high while ResultValid is high."""
    if view.ack_seq is not None:
        return view.ack_seq >= seq
    return view.ack


def resume(view: PlcView, head_seq: int | None) -> Resume:
    """Where delivery goes on after a (re)connect. ``head_seq``: the oldest undelivered result."""
    confirmed = view.ack_seq
    if view.result_valid:
        seq = view.result_seq
        if seq is not None and taken(view, seq):
            # the PLC took it while we were away (or we never saw its Ack): finish that cycle
            return Resume(
                Phase.AWAIT_ACK_DROP if view.ack else Phase.IDLE,
                delivered_up_to=max(seq, confirmed or 0),
                clear_result_valid=True,
                why=f"result {seq} was taken during the cut",
            )
        if seq is not None and seq == head_seq and not view.ack:
            return Resume(Phase.AWAIT_ACK, seq=seq, delivered_up_to=confirmed, why=f"result {seq} still up")
        # not ours to wait for (unknown, already delivered, or an Ack that does not match): withdraw it
        return Resume(
            Phase.AWAIT_ACK_DROP if view.ack else Phase.IDLE,
            delivered_up_to=confirmed,
            clear_result_valid=True,
            why=f"ResultValid withdrawn (ResultSeq {seq}, Ack {view.ack}, AckSeq {view.ack_seq})",
        )
    if view.ack:
        # ResultValid is already low, Ack still high: the PLC may have missed the falling edge (it was
        # frozen, or restarted with a retentive Ack), so ResultValid low is written again
        return Resume(
            Phase.AWAIT_ACK_DROP, delivered_up_to=confirmed, clear_result_valid=True, why="Ack high"
        )
    return Resume(Phase.IDLE, delivered_up_to=confirmed, why="idle")
