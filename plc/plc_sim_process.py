"""The simulated PLC of client mode (plc.plc_server_sim) in a process of its own, so a test can cut the link
the way the line does: freeze the PLC (SIGSTOP: a hung PLC, a cable pulled while the PLC keeps its tags),
thaw it (SIGCONT), or kill and restart it (a power cycle that keeps only the retentive memory).

Child side (``python -m plc.plc_sim_process --url opc.tcp://127.0.0.1:4841/ --journal plc.jsonl``): serves
the PLC's tags, appends every received result, AckSeq and FaultCode to the journal *before* acting on it
(flushed and fsynced: it is the PLC's retentive memory and survives SIGKILL), and after a restart takes
AckSeq and what it received from it. It prints ``READY`` when it listens.

Parent side: :class:`PlcProcess` starts, freezes, thaws, kills it and reads its journal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from plc.plc_server_sim import Received, SimulatedPlc


# ---------------------------------------------------------------------- child
def read_journal(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut by a kill: what follows it was never acted on
    return out


def _journal_writer(f: IO[str]) -> Any:
    def write(event: dict[str, Any]) -> None:
        f.write(json.dumps(event) + "\n")
        f.flush()
        os.fsync(f.fileno())

    return write


async def _serve(url: str, journal: Path, ack_delay_s: float) -> None:
    events = read_journal(journal)
    plc = SimulatedPlc(url, ack_delay_s=ack_delay_s)
    plc.received = [Received(e["seq"], e["part"], e["code"]) for e in events if e["event"] == "received"]
    plc.ack_seq = max((e["seq"] for e in events if e["event"] == "ack" or e.get("acked")), default=0)
    with journal.open("a") as f:
        plc.on_event = _journal_writer(f)
        await plc.start()
        print("READY", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await plc.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--journal", type=Path, required=True)
    p.add_argument("--ack-delay-s", type=float, default=0.0)
    args = p.parse_args(argv)
    from plc.logs import quiet_library_loggers

    quiet_library_loggers()
    asyncio.run(_serve(args.url, args.journal, args.ack_delay_s))
    return 0


# ---------------------------------------------------------------------- parent
class PlcProcess:
    def __init__(self, url: str, journal: Path, ack_delay_s: float = 0.0) -> None:
        self.url = url
        self.journal = journal
        self.ack_delay_s = ack_delay_s
        self.proc: subprocess.Popen[str] | None = None
        self.frozen = False

    def start(self, timeout: float = 60.0) -> None:
        log = self.journal.with_suffix(".log").open("a")
        args = ["--url", self.url, "--journal", str(self.journal), "--ack-delay-s", str(self.ack_delay_s)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "plc.plc_sim_process", *args],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until READY, or "" when the child died
        if line.strip() != "READY" or time.monotonic() > deadline:
            self.kill()
            where = self.journal.with_suffix(".log")
            raise RuntimeError(f"simulated PLC did not start: {line!r}; see {where}")

    def freeze(self) -> None:
        assert self.proc
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        assert self.proc
        os.kill(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    def kill(self) -> None:
        """A power cut: no goodbye to the station, only the journal survives."""
        if self.proc is None:
            return
        if self.frozen:
            self.thaw()
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.frozen:
            self.thaw()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in read_journal(self.journal) if kind is None or e["event"] == kind]

    def received(self) -> list[Received]:
        return [Received(e["seq"], e["part"], e["code"]) for e in self.events("received")]


if __name__ == "__main__":
    sys.exit(main())
