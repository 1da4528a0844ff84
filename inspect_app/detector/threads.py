"""The thread plan: how many inference threads, OpenVINO streams and parts in flight a station uses, from
the cores it may run on.

Measured (docs/performance.md, "Thread plan"): OpenVINO model-only on 1-16 cores of a 16-core Xeon
(``bench/bench_thread_plan.py``, bench/results/thread_plan_16core_xeon.json) and the station itself on this
project's 2-core machine (``bench/bench_station.py``, ``bench/bench_threads.py``). The rules:

* A part the line waits for runs as one inference on ``threads`` threads (OpenVINO's latency mode): a
  second stream would halve the threads of each part and lengthen its wait. One part at a time, the
  station's own work (letterbox, NMS, rules, the commit, the image, OPC UA) comes before and after the
  inference, not during it, so the model gets every core up to 8: on the Xeon, leaving one free made
  the model slower (4 cores: f32 8.76 ms on 3 threads against 7.18 on 4; 8 cores: 5.07 against 4.68).
  From 9 cores on one stays free: on 16, 15 threads took 3.90 ms (int8 4.25) and 16 took 4.99 (4.82), the
  16th waiting for whatever else runs. Nothing past 16 cores was measured, so the plan stops at 16.
* Where throughput counts (replays, evaluations, a free-run line with ``[detector] streams``), one thread
  per stream gave the most parts per second at every core count measured (int8 on 16 cores: 16 streams
  of 1 thread 995 parts/s, 4 of 4 581, 1 of 16 235). There the station's Python work runs all the time
  beside the model, so from 3 cores on one core is left to it.
* Two parts in flight (the detect stage begins the next part's inference before it finishes the last one)
  from 2 cores on; on 1 core there is nothing to overlap with.
* A free-run line with OpenVINO is a throughput line (``detector_settings``): the station triggers itself
  and no PLC waits on a handshake for each part, so what counts is keeping up with the line's rate. One
  stream, the station reached only 0.64-0.79x of 1/model-only pipelined on 2 cores, its Python threads
  sharing the cores with a two-thread inference; two streams of one thread, 0.86-1.00x (docs/performance.md).
  Software and external triggers keep one stream: a part there waits for its verdict.

``[detector] threads``, ``[detector] streams`` and ``[pipeline] in_flight`` left unset follow this plan;
set, they win.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

ALL_CORES_UP_TO = 8  # measured: the model alone on every core was fastest up to 8 cores ...
MAX_LATENCY_THREADS = 16  # ... and 15 of 16 beat 16; past 16 nothing was measured


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
    threads = n if n <= ALL_CORES_UP_TO else min(n - 1, MAX_LATENCY_THREADS)
    spare = n if n <= 2 else n - 1  # throughput: one core for the Python side from 3 cores on
    return ThreadPlan(n, threads, 1 if n == 1 else 2, spare, spare)


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    threads: int  # inference threads, shared by the streams
    streams: int  # OpenVINO streams; 1 = latency mode


def detector_settings(
    trigger_mode: str, backend: str, threads: int | None, streams: int | None, cores: int | None = None
) -> DetectorSettings:
    """A station's inference threads and streams from its config (``None``: unset) and the plan: a free-run
    line on OpenVINO runs the plan's throughput streams, one thread each; any other line one stream on the
    plan's latency threads. Threads set in the config cap the streams (a stream needs a thread)."""
    p = plan(cores)
    if streams is None:
        throughput = backend == "openvino" and trigger_mode == "free_run"
        streams = min(p.throughput_streams, threads or p.throughput_threads) if throughput else 1
    if threads is None and streams > 1:  # streams, planned or set: the plan's throughput threads
        threads = p.throughput_threads
    return DetectorSettings(threads if threads is not None else p.threads, streams)
