"""Figures every reader of the station shows the same way (window, status line, reports, PLC/MES).

Yield is of *decided* parts: PASS / (PASS + FAIL). A part that was not inspected (camera lost, image corrupt,
station in Error) is neither good nor bad, and is counted on its own (``not_inspected``); folding it into the
yield would make a camera outage look like a quality problem.
"""

from __future__ import annotations


def yield_pct(passed: int, failed: int) -> float | None:
    """100 x PASS / (PASS + FAIL), rounded to 0.01; None before the first decided part."""
    decided = passed + failed
    return round(100.0 * passed / decided, 2) if decided else None
