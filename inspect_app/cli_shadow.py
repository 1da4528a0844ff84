"""``inspect-app shadow report``: how the shadow model's verdicts compared with the live ones.

Reads ``shadow_results`` through the one read side of results.db (``store.shadow_read``); text for people,
``--json`` for tools. Every shadow model the DB has seen is reported, the most recent first, unless
``--model`` names one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from inspect_app.cli_models import station_db
from inspect_app.cli_parser import UserError, add_state_dir


def add_shadow_arguments(sub: argparse._SubParsersAction) -> None:
    shadow = sub.add_parser("shadow", help="the shadow model: a candidate judging live parts too")
    ssub = shadow.add_subparsers(metavar="ACTION")
    report = ssub.add_parser("report", help="agreement of the shadow's verdicts with the live ones")
    report.add_argument("--model", default=None, help="NAME/VERSION of one shadow model (default: all)")
    report.add_argument("--since", default=None, help="only parts since: 24h, 7d, or an ISO time")
    report.add_argument("--json", action="store_true", help="JSON instead of text")
    add_state_dir(report)
    report.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from inspect_app.store.read import ResultsReader
    from inspect_app.store.reports import parse_when
    from inspect_app.store.schema import StoreError
    from inspect_app.store.shadow_read import shadow_agreement, shadow_models

    since = None
    if args.since is not None:
        try:
            since = parse_when(args.since).timestamp()
        except ValueError as exc:
            raise UserError(f"--since: {exc}") from None
    db = station_db(args.state_dir)
    try:
        with ResultsReader(db) as reader:
            models = [args.model] if args.model else [m for m, _ in shadow_models(reader)]
            reports = [shadow_agreement(reader, m, since) for m in models]
    except StoreError as exc:
        raise UserError(str(exc)) from None
    running = _running_shadow(args.state_dir)
    if args.json:
        out = [r.as_dict() for r in reports]
        for r in out:
            if running is not None and running.get("model_id") == r["model_id"]:
                r["running"] = running  # the station's tallies since its start, skips included
        print(json.dumps(out, indent=2))
        return 0
    if not reports:
        print(f"{db}: no shadow results (enable [shadow] in the station config)")
    for r in reports:
        print("\n".join(r.lines()))
    if running is not None:
        print(f"running now: shadow {running['model_id']} ({running['state']}): {running['judged']} judged, "
              f"{running['skipped']} skipped since the station started")  # fmt: skip
    return 0


def _running_shadow(state_dir: Path) -> dict | None:
    """The shadow's tallies from a station running on ``state_dir`` (its skips are stored only at stop)."""
    from inspect_app.control import SOCKET_NAME, send

    if not (state_dir / SOCKET_NAME).exists():
        return None
    reply = send(state_dir, {"cmd": "status"})
    shadow = reply.get("shadow") if reply.get("ok") else None
    return shadow if isinstance(shadow, dict) else None
