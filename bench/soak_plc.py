"""The soak test's PLC: the simulated PLC of client mode (``plc.plc_sim_process``) in a process of its own,
cut the way the line cuts it (frozen with SIGSTOP, or killed and restarted), with its retentive journal as
the count of results it received."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path
from typing import Any

from plc.plc_server_sim import SimulatedPlc
from plc.plc_sim_process import PlcProcess


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PlcPeer:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.proc = PlcProcess(f"opc.tcp://127.0.0.1:{self.port}/", folder / "plc.jsonl")
        self.proc.start()

    def client_config(self) -> dict[str, Any]:
        return {
            "mode": "client",
            "client": {
                "server_url": self.proc.url,
                "security": "None",  # loopback only; the security of the link is tested in tests/plc
                "keepalive_s": 0.5,
                "request_timeout_s": 2.0,
                "reconnect_min_s": 0.2,
                "reconnect_max_s": 2.0,
                "nodes": SimulatedPlc.node_ids(2),
            },
        }

    def cut(self, down_s: float, rng: random.Random) -> str:
        if rng.random() < 0.5:
            self.proc.freeze()
            time.sleep(down_s)
            self.proc.thaw()
            return "(frozen)"
        self.proc.kill()
        time.sleep(down_s)
        self.proc.start()
        return "(killed and restarted)"

    def delivered(self, settle_s: float = 60.0) -> int:
        """Results the PLC received (distinct sequence numbers), once the station's outbox has drained."""
        seen = last = len({r.seq for r in self.proc.received()})
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline:
            seen = len({r.seq for r in self.proc.received()})
            if seen == last:
                break
            last = seen
            time.sleep(2.0)
        return seen

    def duplicates(self) -> int:
        seqs = [r.seq for r in self.proc.received()]
        return len(seqs) - len(set(seqs))

    def close(self) -> None:
        self.proc.stop()
