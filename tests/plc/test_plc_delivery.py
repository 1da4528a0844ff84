"""Where client-mode delivery resumes after a reconnect, for each state a cut can leave in the PLC's tags."""

from __future__ import annotations

import pytest

from plc.delivery import Phase, PlcView, Resume, resume, taken

CASES = [
    # (what the PLC shows, the oldest undelivered result) -> where delivery goes on
    ("idle", PlcView(False, False, 7, 7), 8, Resume(Phase.IDLE, delivered_up_to=7)),
    # issue 10, point 4: frozen mid-cycle, the PLC took 8 and holds Ack: withdraw ResultValid, never wait
    # for an Ack drop that a four-phase PLC gives only after ResultValid fell
    ("taken", PlcView(True, True, 8, 8), 8, Resume(Phase.AWAIT_ACK_DROP, None, 8, True)),
    ("taken, nothing left", PlcView(True, True, 8, 8), None, Resume(Phase.AWAIT_ACK_DROP, None, 8, True)),
    ("up, not taken yet", PlcView(True, False, 7, 8), 8, Resume(Phase.AWAIT_ACK, 8, 7)),
    ("up for another result", PlcView(True, False, 7, 5), 8, Resume(Phase.IDLE, None, 7, True)),
    ("Ack that AckSeq denies", PlcView(True, True, 7, 8), 8, Resume(Phase.AWAIT_ACK_DROP, None, 7, True)),
    ("Ack left high", PlcView(False, True, 8, 8), 9, Resume(Phase.AWAIT_ACK_DROP, None, 8, True)),
    ("no AckSeq tag, taken", PlcView(True, True, None, 8), 8, Resume(Phase.AWAIT_ACK_DROP, None, 8, True)),
    ("no AckSeq tag, not yet", PlcView(True, False, None, 8), 8, Resume(Phase.AWAIT_ACK, 8, None)),
    ("no ResultSeq tag", PlcView(True, True, 8, None), 9, Resume(Phase.AWAIT_ACK_DROP, None, 8, True)),
]


@pytest.mark.parametrize(("name", "view", "head", "expected"), CASES, ids=[c[0] for c in CASES])
def test_resume(name: str, view: PlcView, head: int | None, expected: Resume) -> None:
    got = resume(view, head)
    assert (got.phase, got.seq, got.delivered_up_to, got.clear_result_valid) == (
        expected.phase,
        expected.seq,
        expected.delivered_up_to,
        expected.clear_result_valid,
    ), got.why


def test_no_resume_waits_for_an_ack_drop_with_result_valid_left_high() -> None:
    for ack in (False, True):
        for ack_seq in (None, 3, 8):
            for result_seq in (None, 3, 8):
                for head in (None, 8, 9):
                    got = resume(PlcView(True, ack, ack_seq, result_seq), head)
                    if got.phase == Phase.AWAIT_ACK_DROP:
                        assert got.clear_result_valid, (ack, ack_seq, result_seq, head)


def test_ackseq_is_the_authority_where_the_plc_has_one() -> None:
    assert taken(PlcView(False, False, 9), 8) and not taken(PlcView(False, True, 7), 8)
    assert taken(PlcView(False, True, None), 8) and not taken(PlcView(False, False, None), 8)
