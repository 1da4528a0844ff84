"""Failed-login back-off per remote address (plc.login_limiter), on a clock the test turns."""

from __future__ import annotations

from plc.login_limiter import LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_three_free_failures_then_doubling_blocks_per_address() -> None:
    clock = Clock()
    lim = LoginLimiter(free_failures=3, base_s=1.0, max_s=8.0, clock=clock)
    assert [lim.failed("10.0.0.5") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert lim.blocked_for("10.0.0.5") == 0.0
    assert lim.failed("10.0.0.5") == 1.0
    assert lim.blocked_for("10.0.0.5") == 1.0
    assert lim.blocked_for("10.0.0.6") == 0.0  # another address is not affected
    clock.t += 1.0
    assert lim.blocked_for("10.0.0.5") == 0.0
    assert [lim.failed("10.0.0.5") for _ in range(4)] == [2.0, 4.0, 8.0, 8.0]  # capped at max_s


def test_one_log_line_per_block_and_success_forgets() -> None:
    clock = Clock()
    lim = LoginLimiter(free_failures=0, base_s=5.0, clock=clock)
    lim.failed("a")
    assert lim.first_refusal_of_block("a") is True
    assert lim.first_refusal_of_block("a") is False
    lim.succeeded("a")
    assert lim.failures("a") == 0 and lim.blocked_for("a") == 0.0


def test_an_old_failure_starts_no_series_and_memory_is_bounded() -> None:
    clock = Clock()
    lim = LoginLimiter(free_failures=1, base_s=1.0, max_s=10.0, clock=clock, max_addresses=2)
    lim.failed("a")
    clock.t += 11
    assert lim.failed("a") == 0.0 and lim.failures("a") == 1
    lim.failed("b")
    lim.failed("c")  # the third address pushes out the oldest series
    assert lim.failures("a") == 0 and lim.failures("c") == 1
