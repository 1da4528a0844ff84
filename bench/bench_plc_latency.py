"""PLC link benchmark (issues 3 and 10): trigger -> ResultValid as a PLC client sees it, over real OPC UA.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/bench_plc_latency.py [--parts 1000]
        [--model models/synth-pcb/0.2.0 --backend openvino] [--clients process,inprocess] [--intervals 0]
        [--round-trips 1000] [--rates 10,20,50,100,200,400] [--rate-parts 200]

Prints the CPU, then:

1. asyncua's own cost per round trip, without the station: a plain asyncua server in its own process with
   two Boolean variables, whose PostWrite callback copies A to B, and an asyncua client here. Read round
   trip, Write round trip, and Write A -> notification of B (subscription, publishing interval 0): the
   smallest possible handshake step.
2. Per detector (the null ScriptedDetector always; the ONNX model of ``--model`` when given) a station with
   the embedded server on 127.0.0.1 (the demo's unsecured loopback settings, the default store), driven by
   the PLC simulator one part at a time, the simulator either in a process of its own (``process``: as a
   PLC is another machine) or in the station's process (``inprocess``: the earlier setup, where client
   and station share one interpreter). Trigger written -> ResultValid seen, with where the time goes,
   from monotonic stamps (system-wide on Linux, so comparable across the two processes): the Trigger
   write reaching the station, the station's own work up to the DB commit, the link from the commit to
   ResultValid written, and the notification reaching the client. *Model* is the station's
   ``t_detect_ms`` (letterbox + inference + NMS) of the same parts; the target is p99 <= model p99 + 5 ms.
3. The highest blind trigger rate with no missed trigger (in-process client, triggers fired at a fixed
   rate whatever the station's state, as a PLC clocked by its conveyor).

``--intervals 0,10`` adds runs whose client subscribes with that publishing interval (ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from cpuinfo import cpu_line  # noqa: E402

from inspect_app.config import StationConfig, parse_config  # noqa: E402
from inspect_app.station import Station  # noqa: E402
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image  # noqa: E402
from plc.link import make_link  # noqa: E402
from plc.simulator import Connection, Faults, PlcSimulator  # noqa: E402
from plc.testing import free_port  # noqa: E402


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


# ---------------------------------------------------------------------- 1. asyncua alone
async def _plain_server(port: int) -> None:
    from asyncua import Server, ua
    from asyncua.common.callback import CallbackType

    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    a = await server.nodes.objects.add_variable(ua.NodeId("A", 2), "A", False)
    b = await server.nodes.objects.add_variable(ua.NodeId("B", 2), "B", False)
    await a.set_writable()

    async def copy(event: Any, _dispatcher: Any) -> None:  # the server's reaction to a PLC's write
        for item in event.request_params.NodesToWrite:
            if item.NodeId == a.nodeid:
                await server.write_attribute_value(b.nodeid, ua.DataValue(item.Value.Value))

    server.subscribe_server_callback(CallbackType.PostWrite, copy)
    async with server:
        print("READY", flush=True)
        await asyncio.Event().wait()


async def _round_trips(url: str, n: int) -> dict[str, list[float]]:
    from asyncua import Client, ua

    seen: dict[bool, float] = {}
    changed = asyncio.Event()

    class Handler:
        def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
            seen[bool(val)] = time.monotonic()
            changed.set()

    out: dict[str, list[float]] = {"read": [], "write": [], "write -> notification": []}
    async with Client(url) as c:
        a, b = c.get_node(ua.NodeId("A", 2)), c.get_node(ua.NodeId("B", 2))
        sub = await c.create_subscription(0, Handler())
        await sub.subscribe_data_change(b)
        await asyncio.sleep(0.2)
        for _ in range(n):
            t0 = time.monotonic()
            await a.read_value()
            out["read"].append((time.monotonic() - t0) * 1000)
        for i in range(n):
            t0 = time.monotonic()
            await a.write_value(ua.DataValue(ua.Variant(i % 2 == 0, ua.VariantType.Boolean)))
            out["write"].append((time.monotonic() - t0) * 1000)
        await asyncio.sleep(0.2)
        for _ in range(n):
            value = not (await b.read_value())  # the opposite of B now: the write is a change
            seen.pop(value, None)
            changed.clear()
            t0 = time.monotonic()
            await a.write_value(ua.DataValue(ua.Variant(value, ua.VariantType.Boolean)))
            while value not in seen:
                changed.clear()
                await changed.wait()
            out["write -> notification"].append((seen[value] - t0) * 1000)
    return out


def asyncua_alone(n: int) -> dict[str, list[float]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--role", "plain-server", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
        return asyncio.run(_round_trips(f"opc.tcp://127.0.0.1:{port}/", n))
    finally:
        proc.terminate()
        proc.wait(10)


# ---------------------------------------------------------------------- 2. the station
def make_config(state: Path, model: str, backend: str) -> StationConfig:
    return parse_config(
        {
            "station": {"name": "bench-plc"},
            "state_dir": str(state),
            "trigger": {"mode": "external", "queue_size": 16},
            "detector": {"backend": backend, "threads": 2},
            "recipes": {"r": {"model": model, "min_conf": 0.25}},
            "active_recipe": "r",
            "opcua": {
                "mode": "server",
                "endpoint": f"opc.tcp://127.0.0.1:{free_port()}/",
                "security": ["None"],
                "allow_anonymous": True,
                "anonymous_role": "operator",
            },
        }
    )


def frames(n: int) -> list[np.ndarray]:
    from inspect_app.synth.generator import PartGenerator

    gen = PartGenerator("pcb", 640, 640, seed=3, defect_rate=0.5)
    return [gen.generate(i).image for i in range(n)]


def start(cfg: StationConfig, model: Path | None) -> tuple[Station, Any]:
    if model is None:
        images = [part_image(i % 2 == 1, (640, 640)) for i in range(8)]
        st = Station(
            cfg,
            source=ScriptedSource(images, loop=True),
            detectors={cfg.recipes["r"].model: ScriptedDetector()},
        )
    else:
        st = Station(cfg, source=ScriptedSource(frames(16), loop=True))  # the model from the config
    st.start()
    link = make_link(cfg)
    assert link is not None
    link.start(st)
    return st, link


async def _client_run(url: str, parts: int, interval_ms: float, prefix: str) -> dict[str, Any]:
    sim = PlcSimulator(Connection(url, publishing_interval_ms=interval_ms), result_timeout_s=30)
    report = await sim.run(parts, rate_hz=0, faults=Faults(), prefix=prefix)
    if not report.passed:
        print(report.render(), file=sys.stderr)
    return {"stamps": report.stamps, "passed": report.passed}


def drive(url: str, parts: int, interval_ms: float, prefix: str, where: str) -> dict[str, Any]:
    if where == "inprocess":
        return asyncio.run(_client_run(url, parts, interval_ms, prefix))
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--role",
            "client",
            "--url",
            url,
            "--parts",
            str(parts),
            "--interval",
            str(interval_ms),
            "--prefix",
            prefix,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if not lines:
        raise RuntimeError(f"client process failed: {out.stderr[-2000:]}")
    return json.loads(lines[-1])


async def blind_rate(url: str, rate: float, parts: int) -> int:
    """Trigger at a fixed rate whatever the station's state; returns the station's missed triggers."""
    sim = PlcSimulator(Connection(url))
    await sim.connect()
    try:
        before = int((await sim.read("MissedTriggers"))["MissedTriggers"])
        period, t0 = 1.0 / rate, time.monotonic()
        for i in range(parts):
            await sim.write(Trigger=False, Ack=False)
            await sim.write(Ack=True)  # acknowledges the previous part if its result is there by now
            await sim.write(PartId=f"R{rate:g}-{i}", Trigger=True)
            wait = t0 + (i + 1) * period - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        await sim.tags.wait("ResultValid", bool, 5)
        await sim.write(Trigger=False, Ack=True)
        await sim.write(Ack=False)
        return int((await sim.read("MissedTriggers"))["MissedTriggers"]) - before
    finally:
        await sim.disconnect()


def breakdown(
    stamps: list, trace: dict[str, tuple[float, float, float]], detect: dict[str, float]
) -> dict[str, list[float]]:
    keys = ("total", "to station", "station", "link", "to client", "model", "over model")
    parts: dict[str, list[float]] = {k: [] for k in keys}
    for part, t0, seen in stamps:
        total = (seen - t0) * 1000
        parts["total"].append(total)
        if part in detect:  # the part's own model time, and what the rest of the way added to it
            parts["model"].append(detect[part])
            parts["over model"].append(total - detect[part])
        if part in trace:
            req, committed, valid = trace[part]
            parts["to station"].append((req - t0) * 1000)
            parts["station"].append((committed - req) * 1000)
            parts["link"].append((valid - committed) * 1000)
            parts["to client"].append((seen - valid) * 1000)
    return parts


def measure(st_dir: Path, link: Any, url: str, parts: int, interval: float, prefix: str, where: str) -> dict:
    out = drive(url, parts, interval, prefix, where)
    trace = {p: (a, b, c) for p, a, b, c in list(link.signal_trace)}
    conn = sqlite3.connect(st_dir / "results.db")
    detect = dict(
        conn.execute(
            "select part_id, t_detect_ms from inspections where part_id like ? and t_detect_ms is not null",
            (f"{prefix}-%",),
        ).fetchall()
    )
    conn.close()
    return {"parts": breakdown(out["stamps"], trace, detect), "passed": out["passed"]}


def run_detector(
    label: str, model: Path | None, args: argparse.Namespace, work: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    state = work / label.replace(" ", "_")
    cfg = make_config(state, str(model.resolve()) if model else "null", args.backend)
    st, link = start(cfg, model)
    url = cfg.opcua.endpoint
    rows, ab = [], []
    try:
        drive(url, 20, 0.0, "WARM", "inprocess")  # caches, first subscriptions
        for where in args.clients.split(","):
            for interval in [float(x) for x in args.intervals.split(",")]:
                m = measure(state, link, url, args.parts, interval, f"LAT-{where}-{interval:g}", where)
                rows.append({"label": label, "client": where, "interval": interval, **m})
                print(
                    f"  {label}, client {where}, interval {interval:g} ms: done", file=sys.stderr, flush=True
                )
        # interleaved A/B: the same station, one variable changed at a time, rounds alternating so that the
        # machine's other work spreads over all variants alike
        variants = [(True, 5.0), (False, 5.0), (True, 1.0)]
        pooled: dict[tuple[bool, float], dict[str, list[float]]] = {}
        for rnd in range(args.ab_rounds):
            for batch, switch_ms in variants:
                link.server.batch_notifications = batch
                sys.setswitchinterval(switch_ms / 1000)
                m = measure(
                    state, link, url, args.ab_parts, 0.0, f"AB{rnd}-{int(batch)}-{switch_ms:g}", "process"
                )
                got = pooled.setdefault((batch, switch_ms), {})
                for k, v in m["parts"].items():
                    got.setdefault(k, []).extend(v)
        link.server.batch_notifications = True
        sys.setswitchinterval(args.switch_interval_ms / 1000 if args.switch_interval_ms else 0.005)
        for (batch, switch_ms), got in pooled.items():
            ab.append({"label": label, "batch": batch, "switch_ms": switch_ms, "parts": got})
        best = 0.0
        for rate in [float(r) for r in args.rates.split(",") if r]:
            missed = asyncio.run(blind_rate(url, rate, args.rate_parts))
            print(f"  {label}: {rate:g} Hz blind -> {missed} missed", file=sys.stderr, flush=True)
            if missed:
                break
            best = rate
        for r in rows:
            r["max_rate"] = best
    finally:
        link.stop()
        st.stop()
    return rows, ab


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--parts", type=int, default=1000, help="handshake cycles per run (>= 1000 for the record)"
    )
    p.add_argument("--model", type=Path, default=None, help="a model release directory (the ONNX detector)")
    p.add_argument("--backend", default="onnxruntime", choices=["onnxruntime", "openvino"])
    p.add_argument("--clients", default="process,inprocess", help="where the PLC simulator runs")
    p.add_argument("--intervals", default="0", help="client publishing intervals to try (ms)")
    p.add_argument("--round-trips", type=int, default=1000, help="asyncua-alone round trips per kind")
    p.add_argument("--rates", default="10,20,50,100,200,400", help="blind trigger rates, ascending (Hz)")
    p.add_argument("--rate-parts", type=int, default=200, help="parts per blind-rate step")
    p.add_argument(
        "--switch-interval-ms", type=float, default=None, help="the station process's GIL switch interval"
    )
    p.add_argument(
        "--ab-rounds", type=int, default=0, help="interleaved A/B rounds (batching, switch interval)"
    )
    p.add_argument("--ab-parts", type=int, default=300, help="parts per A/B variant and round")
    p.add_argument(
        "--role", default="bench", choices=["bench", "plain-server", "client"], help=argparse.SUPPRESS
    )
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--url", default="", help=argparse.SUPPRESS)
    p.add_argument("--interval", type=float, default=0.0, help=argparse.SUPPRESS)
    p.add_argument("--prefix", default="LAT", help=argparse.SUPPRESS)
    args = p.parse_args()
    from plc.logs import quiet_library_loggers

    quiet_library_loggers()
    if args.role == "plain-server":
        asyncio.run(_plain_server(args.port))
        return 0
    if args.role == "client":
        print(json.dumps(asyncio.run(_client_run(args.url, args.parts, args.interval, args.prefix))))
        return 0

    from inspect_app.offline import configure_offline

    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    print(cpu_line(), flush=True)
    switch_ms = sys.getswitchinterval() * 1000
    print(f"load average at start: {os.getloadavg()[0]:.2f}; GIL switch interval {switch_ms:g} ms")
    alone = asyncua_alone(args.round_trips)
    print(f"\n## asyncua alone: {args.round_trips} of each, client and server in two processes, loopback\n")
    print("| round trip | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|")
    for kind, values in alone.items():
        print(f"| {kind} | {pct(values, 50):.2f} | {pct(values, 99):.2f} | {max(values):.2f} |")

    rows: list[dict[str, Any]] = []
    ab: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-plc-") as tmp:
        configure_offline(Path(tmp))
        for label, model in [("null detector", None)] + (
            [(f"model {args.model.name} ({args.backend})", args.model)] if args.model else []
        ):
            got_rows, got_ab = run_detector(label, model, args, Path(tmp))
            rows += got_rows
            ab += got_ab
    print(f"\n## Trigger -> ResultValid seen by the PLC client ({args.parts} parts per row, loopback)\n")
    print(
        "| detector | client | interval ms | p50 ms | p99 ms | max ms | model p50 | model p99 "
        "| p99 - model p99 | over its model, p50 / p99 | max blind rate | conformant |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        total, det, over = r["parts"]["total"], r["parts"]["model"], r["parts"]["over model"]
        gap = pct(total, 99) - (pct(det, 99) if det else 0.0)
        numbers = [pct(total, 50), pct(total, 99), max(total), pct(det, 50), pct(det, 99), gap]
        cells = [f"{x:.1f}" for x in numbers] + [f"{pct(over, 50):.1f} / {pct(over, 99):.1f}"]
        cells += [f"{r['max_rate']:g} Hz", "yes" if r["passed"] else "NO"]
        print(f"| {r['label']} | {r['client']} | {r['interval']:g} | " + " | ".join(cells) + " |")
    print("\n## Where the time goes (ms, p50 / p99)\n")
    print("| detector | client | interval ms | Trigger to station | station to commit "
          "| commit to ResultValid | ResultValid to client |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [f"{pct(r['parts'][k], 50):.2f} / {pct(r['parts'][k], 99):.2f}"
                 for k in ("to station", "station", "link", "to client")]  # fmt: skip
        print(f"| {r['label']} | {r['client']} | {r['interval']:g} | " + " | ".join(cells) + " |")
    if ab:
        rounds = f"{args.ab_rounds} rounds of {args.ab_parts} parts per variant"
        print(f"\n## A/B, interleaved, {rounds}, client in its own process\n")
        print("| detector | one notification per step | GIL switch interval | p50 ms | p99 ms "
              "| p99 - model p99 | over its model, p50 / p99 | commit to ResultValid p50 / p99 "
              "| ResultValid to client p50 / p99 |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|")
        for r in ab:
            q = r["parts"]
            gap = pct(q["total"], 99) - (pct(q["model"], 99) if q["model"] else 0.0)
            cells = [f"{pct(q['total'], 50):.1f}", f"{pct(q['total'], 99):.1f}", f"{gap:.1f}"]
            cells += [
                f"{pct(q[k], 50):.2f} / {pct(q[k], 99):.2f}" for k in ("over model", "link", "to client")
            ]
            print(
                f"| {r['label']} | {'yes' if r['batch'] else 'no'} | {r['switch_ms']:g} ms | "
                + " | ".join(cells)
                + " |"
            )
    print(f"\nTarget: p99 <= model p99 + 5 ms. {cpu_line()}. Blind rates tried: {args.rates} Hz.")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (other work on the machine shows in the tails)")
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
