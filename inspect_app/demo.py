"""The zero-configuration demo: synthetic camera, the bundled default model, SQLite under ``var/``."""

from __future__ import annotations

import socket
from pathlib import Path

from inspect_app import releases
from inspect_app.config import StationConfig, parse_config

# Engineer mode in the demo window. The password is "engineer" and is printed in the README: this is a demo
# on loopback, like its unsecured OPC UA endpoint; a real station sets its own hash in station.toml.
DEMO_ENGINEER_PASSWORD_HASH = (
    "scrypt$16384$8$1$Vta45v/IoeKfMVaPMwc0Fw==$E7Vm9CNYxZbi1C0h10fxtapF22IoQSHoIFFF5V1HPz8="
)


def models_root() -> Path:
    return releases.models_root()


def default_model_dir(root: Path | None = None) -> Path:
    """The default release (``models/default.json``, written by ``inspect-app models promote``)."""
    return releases.ReleaseRegistry(root).default_dir()


OPCUA_PORT = 4840  # the IANA port of OPC UA


def demo_opcua_port(preferred: int = OPCUA_PORT) -> tuple[int, str]:
    """(port, note): ``preferred`` if nothing listens on it on loopback, else one the OS says is free, so
    that two demos on two state dirs both run. The note says why the port is not the preferred one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as the server binds (asyncio does on Unix): a port left in TIME_WAIT by the last demo is free
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred, ""
        except OSError:
            pass
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return port, f" ({preferred} is in use, by another demo or OPC UA server)"


# how the demo's window names the four synthetic defect classes in Chinese (recipes' display_names)
DISPLAY_NAMES = {"zh_CN": {"scratch": "划痕", "pit": "凹坑", "open": "断路", "short": "短路"}}


def demo_config(state_dir: Path = Path("var"), model_dir: Path | None = None,
                opcua_port: int = OPCUA_PORT) -> StationConfig:
    model = str((model_dir or default_model_dir()).resolve())
    return parse_config(
        {
            "station": {"name": "demo-station", "line": "demo"},
            "state_dir": str(Path(state_dir).resolve()),
            "source": {
                "kind": "synthetic",
                "style": "pcb",
                "width": 640,
                "height": 640,
                "seed": 7, "zoom": 2.0,
                "defect_rate": 0.3,
            },
            "trigger": {"mode": "free_run", "rate_hz": 5.0},
            "detector": {"backend": "openvino", "threads": 2},
            "store": {"save_pass_every": 20},
            "recipes": {
                "pcb-demo": {
                    "model": model,
                    "description": "synthetic PCB, any defect fails",
                    "min_conf": 0.4,
                    "display_names": DISPLAY_NAMES,
                },
                "pcb-lenient": {
                    "model": model,
                    "description": "allows one pit; scratches need conf 0.6",
                    "min_conf": 0.4,
                    "classes": {"pit": {"max_count": 1}, "scratch": {"min_conf": 0.6}},
                    "display_names": DISPLAY_NAMES,
                },
            },
            "active_recipe": "pcb-demo",
            "ui": {"engineer_password_hash": DEMO_ENGINEER_PASSWORD_HASH},
            # the embedded OPC UA server, unsecured on loopback only (the server logs this loudly and the
            # window shows it); production settings: station.example.toml [opcua]
            "opcua": {
                "mode": "server",
                "endpoint": f"opc.tcp://127.0.0.1:{opcua_port}/",
                "security": ["None"],
                "allow_anonymous": True,
                "anonymous_role": "engineer",
            },
        },
        origin="demo defaults",
    )
