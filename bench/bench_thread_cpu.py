"""Where a free-run line's CPU goes, thread by thread (issue 13's throughput target).

    OMP_WAIT_POLICY=PASSIVE nice -n -10 .venv/bin/python bench/bench_thread_cpu.py [--precision int8] \
        [--parts 1200] [--store sqlite|null]

The station's default for a free-run line (OpenVINO with the thread plan's throughput streams, results in
SQLite with every FAIL image and 1 in 20 PASS images, the OPC UA server on; the synthetic parts are half
FAIL), free-running on ``bench_station``'s frames. After 50 parts to settle, each thread's CPU time (user +
system, from /proc/self/task) is read before and after ``--parts`` parts: the share of one core each
thread used, and the CPU milliseconds the whole process spent per part. Threads the station names appear
by name; the rest (OpenVINO's inference threads, asyncua's helpers) as ``native:<comm>``. With N cores a
line can reach at most N cores' worth of CPU divided by the CPU per part, whatever the pipeline does.

Linux only (/proc). Prints the CPU first; JSON in bench/results/thread_cpu.json.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from cpuinfo import cpu_line  # noqa: E402

from inspect_app.offline import configure_offline  # noqa: E402


def thread_cpu_s() -> dict[int, tuple[str, float]]:
    """Each thread of this process: (its kernel name, CPU seconds used so far)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[str, float]] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(tid)] = (comm, (int(fields[11]) + int(fields[12])) / tick)  # utime + stime
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=None, help="a release (default: models/default.json's)")
    p.add_argument("--precision", default="int8")
    p.add_argument("--parts", type=int, default=1200)
    p.add_argument("--store", choices=("sqlite", "null"), default="sqlite")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "thread_cpu.json")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="thread-cpu-"))
    configure_offline(work)
    print(cpu_line(), flush=True)
    import bench_station

    from inspect_app.demo import default_model_dir
    from inspect_app.detector import load_detector
    from inspect_app.detector.threads import detector_settings
    from inspect_app.station import Station
    from inspect_app.testing.fakes import ScriptedSource
    from plc.link import make_link
    from plc.testing import free_port

    model = (args.model or default_model_dir()).resolve()
    opcua = {
        "mode": "server", "endpoint": f"opc.tcp://127.0.0.1:{free_port()}/", "security": ["None"],
        "allow_anonymous": True, "anonymous_role": "operator",
    }  # fmt: skip
    run = detector_settings("free_run", "openvino", None, None)
    cfg = bench_station._config(
        work / "station", "free_run", "openvino", run.threads, args.precision, model, opcua=opcua
    )
    det = load_detector(model, "openvino", run.threads, precision=args.precision, streams=run.streams)
    det.warmup()
    store = bench_station.NullStore() if args.store == "null" else None
    source = ScriptedSource(bench_station.frames(200), loop=True)
    st = Station(cfg, source=source, detectors={str(model): det}, store=store)
    st.start()
    link = make_link(cfg)
    assert link is not None
    link.start(st)
    st.wait_for_results(int(st.counters["total"]) + 50, 120)
    n0, before, t0 = int(st.counters["total"]), thread_cpu_s(), time.monotonic()
    st.wait_for_results(n0 + args.parts, 600)
    t1, after, n1 = time.monotonic(), thread_cpu_s(), int(st.counters["total"])
    names = {t.native_id: t.name for t in threading.enumerate()}
    link.stop()
    st.stop()
    wall, parts = t1 - t0, n1 - n0
    used: collections.Counter[str] = collections.Counter()
    for tid, (comm, cpu) in after.items():
        used[names.get(tid, f"native:{comm}")] += cpu - before.get(tid, (comm, 0.0))[1]
    total = sum(used.values())
    res = {
        "cpu_line": cpu_line(), "model": str(model), "precision": args.precision, "store": args.store,
        "threads": run.threads, "streams": det.streams, "cores": os.cpu_count(), "parts": parts,
        "parts_per_s": parts / wall, "cpu_ms_per_part": 1000 * total / parts,
        "share_of_one_core": {k: v / wall for k, v in used.most_common()},
        "cpu_ms_per_part_by_thread": {k: 1000 * v / parts for k, v in used.most_common()},
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2))
    rate, per_part = res["parts_per_s"], res["cpu_ms_per_part"]
    print(f"{args.precision}, {args.store} store: {rate:.1f} parts/s, {per_part:.2f} ms CPU per part")
    print("by thread, % of one core (CPU ms per part):")
    for name, share in res["share_of_one_core"].items():
        if share >= 0.005:
            print(f"  {name:32s} {100 * share:6.1f} % ({res['cpu_ms_per_part_by_thread'][name]:.2f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
