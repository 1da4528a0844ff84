"""``inspect-app cameras list``: the GigE Vision and USB3 Vision cameras reachable now, with model, serial,
interface, address and their current settings, read from each camera (docs/cameras.md)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from inspect_app.cli_parser import UserError

_INTERFACES = ("GigEVision", "USB3Vision", "Fake")
# what is shown of each camera: (column, GenICam features tried in order)
_SETTINGS = (
    ("user_id", ("DeviceUserID",)),
    ("pixel_format", ("PixelFormat",)),
    ("width", ("Width",)),
    ("height", ("Height",)),
    ("exposure_us", ("ExposureTime", "ExposureTimeAbs")),
    ("gain", ("Gain", "GainRaw")),
    ("frame_rate", ("AcquisitionFrameRate", "AcquisitionFrameRateAbs")),
    ("trigger_mode", ("TriggerMode",)),
    ("trigger_source", ("TriggerSource",)),
    ("temperature_c", ("DeviceTemperature",)),
)


def add_cameras_arguments(sub: argparse._SubParsersAction) -> None:
    cameras = sub.add_parser("cameras", help="GigE Vision and USB3 Vision cameras (GenICam, through Aravis)")
    actions = cameras.add_subparsers(metavar="ACTION")
    listing = actions.add_parser(
        "list", help="the cameras reachable now: model, serial, interface, address and current settings"
    )
    listing.add_argument(
        "--interface", action="append", choices=_INTERFACES, default=None,
        help="search this interface only (repeatable; default: GigEVision and USB3Vision; Fake is Aravis's "
        "test camera)",
    )  # fmt: skip
    listing.add_argument("--json", action="store_true", help="one JSON object per camera, one per line")
    listing.add_argument("--no-settings", action="store_true", help="list without opening the cameras")
    listing.set_defaults(func=cli_list)


def cli_list(args: argparse.Namespace) -> int:
    from inspect_app.sources import genicam_aravis as arv

    missing = arv.why_unavailable()
    if missing:
        raise UserError(missing)
    interfaces = args.interface or ["GigEVision", "USB3Vision"]
    found = arv.enumerate_cameras(interfaces)
    for cam in found:
        row: dict[str, Any] = asdict(cam)
        if not args.no_settings:
            row.update(_settings(arv, cam.device_id, interfaces))
        print(json.dumps(row) if args.json else _line(row))
    if not found and not args.json:
        print(f"no camera reachable on {', '.join(interfaces)}")
    return 0


def _settings(arv: Any, device_id: str, interfaces: list[str]) -> dict[str, Any]:
    try:
        camera = arv.open_camera(device_id, interfaces)
    except arv.FeatureError as exc:
        return {"error": str(exc)}
    out: dict[str, Any] = {}
    for column, names in _SETTINGS:
        out[column] = next((v for v in (arv.read_feature(camera, n) for n in names) if v is not None), None)
    return out


def _line(row: dict[str, Any]) -> str:
    head = f"{row['vendor']} {row['model']}  serial {row['serial']}  {row['protocol']} {row['address']}"
    head += f"  id {row['device_id']}"
    shown = [f"{k} {row[k]}" for k, _ in _SETTINGS if row.get(k) not in (None, "")]
    if row.get("error"):
        shown.append(f"settings unreadable: {row['error']}")
    return head + ("\n    " + ", ".join(shown) if shown else "")
