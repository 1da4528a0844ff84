"""The demo's OPC UA port: 4840 when it is free, else one the OS says is free, and the demo says which; so
two demos on two state dirs both run (one state dir is still one station's: the lock refuses a second)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from inspect_app.demo import OPCUA_PORT, demo_config, demo_opcua_port


def _listen(port: int) -> socket.socket | None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.close()
        return None  # someone listens there already: busy all the same
    s.listen()
    return s


def test_a_busy_port_gives_another_free_one() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert demo_opcua_port(free) == (free, "")
    held = _listen(free)
    try:
        port, note = demo_opcua_port(free)
        assert port != free and f"{free} is in use" in note
        assert _listen(port) is not None  # really free
    finally:
        if held is not None:
            held.close()
    cfg = demo_config(opcua_port=port)
    assert cfg.opcua.endpoint == f"opc.tcp://127.0.0.1:{port}/"


def test_a_demo_runs_when_4840_is_taken_and_says_where_it_serves(tmp_path: Path) -> None:
    held = _listen(OPCUA_PORT)  # as a first demo, or any OPC UA server, would hold it
    try:
        res = subprocess.run(
            [sys.executable, "-m", "inspect_app.cli", "demo", "--headless", "--max-parts", "2",
             "--state-dir", str(tmp_path / "second")],
            capture_output=True, text=True, timeout=180, check=False,
        )
    finally:
        if held is not None:
            held.close()
    assert res.returncode == 0, res.stderr[-2000:]
    said = next(ln for ln in res.stdout.splitlines() if ln.startswith("demo OPC UA server on "))
    assert "opc.tcp://127.0.0.1:4840/" not in said and "(4840 is in use" in said
    assert "[final] total 2" in res.stdout
