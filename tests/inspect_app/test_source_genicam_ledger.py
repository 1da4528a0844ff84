"""Every frame id accounted for: 16-bit wraps, gaps, repeated ids and restarted counts."""

from __future__ import annotations

from inspect_app.sources.genicam_ledger import FrameLedger


def test_ids_across_the_16_bit_wrap_with_a_gap_are_all_accounted() -> None:
    ledger = FrameLedger()
    ledger.start_session()
    for fid in (65533, 65534, 65535, 2, 3):  # 1 never arrived (0 is never used)
        assert ledger.arrived(fid, complete=True) >= 0
    ledger.delivered()
    ledger.dropped("superseded", 3)
    counts = ledger.counts()
    assert counts.ids == 6 and counts.missing == 1 and counts.held == 1
    assert counts.unaccounted == 0


def test_incomplete_and_repeated_ids() -> None:
    ledger = FrameLedger()
    ledger.start_session()
    ledger.arrived(10, complete=True)
    assert ledger.arrived(10, complete=True) == -1  # the same id again is not a frame
    ledger.arrived(11, complete=False)
    ledger.arrived(14, complete=True)
    ledger.delivered()
    ledger.delivered()
    counts = ledger.counts()
    assert (counts.ids, counts.incomplete, counts.missing, counts.duplicates) == (5, 1, 2, 1)
    assert counts.unaccounted == 0


def test_a_camera_that_restarts_its_count_is_not_thousands_of_lost_frames() -> None:
    ledger = FrameLedger()
    ledger.start_session()
    ledger.arrived(50_000_000, complete=True)  # 64-bit ids (USB3 Vision)
    ledger.arrived(1, complete=True)  # the camera rebooted without the link closing
    ledger.start_session()  # and a reconnect starts over as well
    ledger.arrived(7, complete=True)
    ledger.dropped("lost", 3)
    counts = ledger.counts()
    assert counts.ids == 3 and counts.missing == 0 and counts.id_resets == 1 and counts.sessions == 2
    assert counts.unaccounted == 0


def test_a_count_that_is_off_is_seen() -> None:
    ledger = FrameLedger()
    ledger.start_session()
    ledger.arrived(1, complete=True)
    ledger.arrived(2, complete=True)
    ledger.delivered()
    assert ledger.counts().unaccounted == 0  # one delivered, one held
    ledger.dropped("superseded", 0)
    assert ledger.counts().held == 1
