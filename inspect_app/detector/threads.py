"""The thread plan: how many inference threads, OpenVINO streams and parts in flight a station uses, from
the cores it may run on.

Measured in docs/performance.md ("Thread plan"): OpenVINO model-only on 1-16 cores of a 16-core Xeon
(``bench/bench_thread_plan.py``, bench/results/thread_plan_16core_xeon.json) and through the station's
detector on this project's 2-core machine (``bench/bench_threads.py``, ``bench/bench_station.py``). The
rules:

* A part the line waits for runs as one inference on ``threads`` threads (OpenVINO's latency mode): a
  second stream would halve the threads of each part and lengthen its wait.
* On 1-2 cores the model gets every core: the station's other threads (acquisition, letterbox and NMS,
  the result store, OPC UA, the window) mostly run while the model waits for the next frame, and a model
  held to 1 of 2 cores is slower by a third or more. From 3 cores on one core stays free for them, so that
  the next part's letterbox and the last part's NMS, commit and JPEG never make the model wait for a core.
* Latency stops improving at about 8 threads (a 320 px yolo11n has too little work per layer: 4.7 ms on
  8 cores of the Xeon, no better on 16), so more cores go to streams, and only where throughput counts
  (replays, evaluations, a free-run line with ``[detector] streams``): one thread per stream gave the most
  parts per second at every core count measured (int8 on 16 cores: 16 streams of 1 thread 995 parts/s,
  4 of 4 581, 1 of 16 235).
* Two parts in flight (the detect stage begins the next part's inference before it finishes the last one)
  from 2 cores on; on 1 core there is nothing to overlap with.

``[detector] threads`` and ``[pipeline] in_flight`` left unset follow this plan; set, they win.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

MAX_LATENCY_THREADS = 8


@dataclass(frozen=True, slots=True)
class ThreadPlan:
    cores: int
    threads: int  # inference threads of the one request a waiting part runs on
    in_flight: int  # parts the detect stage may have begun
    throughput_streams: int  # OpenVINO streams for replays and evaluations (no part waits) ...
    throughput_threads: int  # ... sharing this many threads

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def line(self) -> str:
        return (
            f"{self.cores} cores: {self.threads} inference threads, {self.in_flight} in flight; "
            f"for throughput {self.throughput_streams} streams on {self.throughput_threads} threads"
        )


def available_cores() -> int:
    """The CPUs this process may run on (taskset, cgroup cpusets), not the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def plan(cores: int | None = None) -> ThreadPlan:
    n = max(1, cores if cores is not None else available_cores())
    spare = n if n <= 2 else n - 1  # from 3 cores on, one for everything but the model
    return ThreadPlan(n, min(spare, MAX_LATENCY_THREADS), 1 if n == 1 else 2, spare, spare)
