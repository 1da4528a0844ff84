"""``inspect-app models list | show | promote | rollback``: the station's side of model releases.

These run without Lightning or torch (a station has neither); ``models release`` (training) joins this
group from ``training.cli``. Promotion is gated (``promotion_gate``): a candidate that lets a reviewed defect
pass, or fails the other checks, is refused unless ``--force --reason`` is given. Every promotion, refusal
and rollback is an audit row in the state dir's results.db and a line in the models folder's
promotions.jsonl; the previous release stays on disk and ``models rollback`` returns to it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from inspect_app.cli_parser import DB_FILE, ENVIRONMENT, UserError
from inspect_app.config import StationConfig
from inspect_app.model_release import MANIFEST, ModelError, verify_onnx_shape
from inspect_app.releases import POINTER, ReleaseRegistry

REFUSED = 1  # the gate said no: not a usage error, a decision


def add_models_arguments(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The ``models`` group with the station's actions; returns its subparsers so that a plugin (training)
    adds its own actions (``release``) to the same group."""
    models = sub.add_parser(
        "models", help="model releases: list, show, promote, rollback (release: training)", epilog=ENVIRONMENT
    )
    msub = models.add_subparsers(metavar="ACTION")
    ls = msub.add_parser("list", help="releases under the models folder")
    show = msub.add_parser("show", help="a release's manifest, verified")
    show.add_argument("release", help="NAME/VERSION or a release directory")
    promote = msub.add_parser(
        "promote", help="make a release the default model, if it passes the station's gate",
        epilog="exit status: 0 promoted (or --dry-run passed), 1 refused by the gate, 2 usage error",
    )  # fmt: skip
    promote.add_argument("release", help="NAME/VERSION")
    promote.add_argument("--force", action="store_true", help="promote even if the gate refuses (audited)")
    promote.add_argument("--reason", default="", help="why (required with --force)")
    promote.add_argument("--dry-run", action="store_true", help="run the gate only; change nothing")
    promote.add_argument("--json", action="store_true", help="print the gate's result as JSON")
    rollback = msub.add_parser("rollback", help="make the previous default model the default again (audited)")
    rollback.add_argument("--reason", default="", help="why (recorded in the audit)")
    for p in (promote, rollback):
        p.add_argument("--who", default=os.environ.get("USER", "cli"), help="recorded in the audit")
        p.add_argument(
            "--config", type=Path, default=None,
            help="the station's config: recipes, detector, [promotion] thresholds (default: the config of "
            "the station running on --state-dir, else the demo's)",
        )  # fmt: skip
    for p in (ls, show, promote, rollback):
        p.add_argument("--root", type=Path, default=None,
                       help="models folder (default: $INSPECT_APP_MODELS, else models/)")  # fmt: skip
        p.add_argument(
            "--state-dir", type=Path, default=None,
            help="the station's state dir, its results.db (default: --config's, else var/)",
        )  # fmt: skip
    ls.set_defaults(func=cmd_list)
    show.set_defaults(func=cmd_show)
    promote.set_defaults(func=cmd_promote)
    rollback.set_defaults(func=cmd_rollback)
    return msub


def registry(args: argparse.Namespace, must_exist: bool = True) -> ReleaseRegistry:
    if args.root is not None and must_exist and not args.root.is_dir():
        # a typo must not list "no releases" and succeed
        raise UserError(f"--root {args.root}: no such folder")
    return ReleaseRegistry(args.root)


def cmd_list(args: argparse.Namespace) -> int:
    reg = registry(args)
    default = reg.default_ref()
    rows = []
    for e in reg.entries():
        if e.release is None:
            rows.append(f"  {e.ref:<28} INVALID: {e.error}")
            continue
        r = e.release
        test = (r.metrics.get("test") or {}).get("mAP50")
        mark = "*" if e.ref == default else ("<" if e.ref == reg.previous_ref() else " ")
        rows.append(
            f"{mark} {e.ref:<28} {r.created:<26} imgsz {r.imgsz[0]:<5} {len(r.names)} classes  "
            f"test mAP50 {test if test is not None else '-'}  parent {r.parent or '-'}"
        )
    print(f"releases in {reg.root} (* = default, {default or 'none'}; < = previous, for rollback):")
    print("\n".join(rows) if rows else "  none")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    reg = registry(args)
    d = reg.path(args.release)
    try:
        reg.load(d)  # every file's sha256
    except ModelError as exc:
        print((d / MANIFEST).read_text() if (d / MANIFEST).is_file() else "", end="")
        raise UserError(str(exc)) from None
    print((d / MANIFEST).read_text(), end="")
    print(f"# {d}: all files verified")
    return 0


def station_config(config: Path | None, state_dir: Path | None) -> tuple[StationConfig, Path]:
    """The station's config and state dir. ``--config``, on its own state dir unless ``--state-dir`` names
    another (the gate must read that station's history, the audit go into it, the switch reach it); else the
    config file of the station running on ``--state-dir`` (default var/: the gate judges by its recipes and
    [promotion], and the promotion then switches it); else the demo's."""
    from inspect_app.config import load_config

    if config is not None:
        cfg = load_config(config)
        return cfg, Path(state_dir or cfg.state_dir)
    state_dir = Path(state_dir or "var")
    return running_or_demo_config(state_dir), state_dir


def station_db(state_dir: Path) -> Path:
    """``state_dir``'s results DB for the commands that name only a state dir: the one the station running
    there writes (its status says), else results.db (no station, or one that does not answer: a crashed
    station's socket file must not stop a read of its results)."""
    from inspect_app.control import SOCKET_NAME, send

    if (state_dir / SOCKET_NAME).exists():
        try:
            db = send(state_dir, {"cmd": "status"}, timeout=10).get("db")
        except (OSError, ValueError):
            db = None
        if db:
            return Path(db)
    return state_dir / DB_FILE


def running_or_demo_config(state_dir: Path) -> StationConfig:
    """The config file of the station running on ``state_dir`` (asked through its control socket), else the
    demo's on that state dir."""
    from inspect_app.config import load_config
    from inspect_app.control import SOCKET_NAME, send
    from inspect_app.demo import demo_config

    if (state_dir / SOCKET_NAME).exists():
        try:
            running = send(state_dir, {"cmd": "status"}, timeout=10).get("config")
        except OSError as exc:
            raise UserError(f"a station seems to run on {state_dir} but does not answer ({exc}): "
                            "name its config with --config") from None  # fmt: skip
        if running:
            return load_config(running)
    return demo_config(state_dir=state_dir)


def cmd_promote(args: argparse.Namespace) -> int:
    return promote(
        registry(args), args.release, state_dir=args.state_dir, config=args.config, who=args.who,
        force=args.force, reason=args.reason, dry_run=args.dry_run, as_json=args.json,
    )  # fmt: skip


def promote(
    reg: ReleaseRegistry, release: str, *, state_dir: Path | None, config: Path | None, who: str,
    force: bool = False, reason: str = "", dry_run: bool = False, as_json: bool = False,
) -> int:  # fmt: skip
    """``models promote``: the gate on the station's config and results, the pointer moved if it passes (or
    ``force`` with a ``reason``), audited either way, and a station running on ``state_dir`` switched.
    Returns the exit status (0, or REFUSED); UserError when the release or the gate's inputs are wrong."""
    from inspect_app.promotion import audit_promotion, gate_release

    if force and not reason.strip():
        raise UserError("--force needs --reason: say why the gate is overridden (it is audited)")
    d = reg.path(release)
    try:
        candidate = reg.load(d)
        if "model.onnx" in candidate.files:
            verify_onnx_shape(candidate)
        ref = reg.ref_of(d)
        if ref is None:
            raise ModelError(f"{d} is not a release under {reg.root} (models/<name>/<version>)")
    except ModelError as exc:
        raise UserError(str(exc)) from None
    cfg, state_dir = station_config(config, state_dir)
    from inspect_app.replay import ReplayError
    from inspect_app.rules import RecipeError

    db = state_dir / cfg.store.db
    try:
        result = gate_release(cfg, reg, ref, db_path=db)
    except (ReplayError, RecipeError, ModelError) as exc:  # e.g. a recipe names a class the candidate lacks
        raise UserError(f"the gate cannot judge {ref} on this station: {exc}") from None
    history = db.is_file()
    if as_json:
        print(json.dumps({**result.as_dict(), "results_db": str(db), "history": history}, indent=2))
    else:
        print("\n".join(result.lines()))
        # said either way: a gate run on the wrong state dir passes for want of reviewed defects to check
        print(f"judged on the history in {db}" if history else
              f"NO HISTORY: no results database at {db}; no reviewed part or recent verdict of a line was "
              "judged, only the test metrics (another --state-dir or --config?)")  # fmt: skip
    if dry_run:
        return 0 if result.passed else REFUSED
    if not result.passed and not force:
        audit_promotion(db, who, "model.promote.refused", reg.default_ref(), ref, result, reason)
        print(f"{ref} NOT promoted: the gate refused it (override: --force --reason TEXT)", file=sys.stderr)
        return REFUSED
    forced = not result.passed
    old = reg.default_ref()
    reg.set_default(ref, who=who, forced=forced, reason=reason, gate=result.as_dict())
    audit_promotion(db, who, "model.promote", old, ref, result, reason, forced=forced)
    print(f"default model is now {ref}{' (FORCED past the gate)' if forced else ''} ({reg.root / POINTER}); "
          f"previous: {old or 'none'} (inspect-app models rollback)")  # fmt: skip
    _apply_live(state_dir, who, reg, old, ref)
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from inspect_app.promotion import audit_promotion

    reg = registry(args)
    current, previous = reg.default_ref(), reg.previous_ref()
    if previous is None:
        raise UserError(f"nothing to roll back to: {reg.root / POINTER} names no previous release")
    try:
        reg.load(previous)
    except ModelError as exc:
        raise UserError(f"cannot roll back to {previous}: {exc}") from None
    cfg, state_dir = station_config(args.config, args.state_dir)
    reg.set_default(previous, who=args.who, action="rollback", reason=args.reason)
    audit_promotion(state_dir / cfg.store.db, args.who, "model.rollback", current, previous, None,
                    args.reason)  # fmt: skip
    print(f"default model is now {previous} (rolled back from {current})")
    _apply_live(state_dir, args.who, reg, current, previous)
    return 0


def _apply_live(state_dir: Path, who: str, reg: ReleaseRegistry, old: str | None, new: str) -> None:
    """A station running on ``--state-dir`` switches the recipes that run ``old`` to ``new`` now (audited
    there as model switches; the OPC UA server tells MES); otherwise the default applies at its next start."""
    from inspect_app.control import SOCKET_NAME, send

    if old is None or old == new or not (state_dir / SOCKET_NAME).exists():
        print(f"no station is running on {state_dir}: {new} applies from its next start")
        return
    reply = send(state_dir, {"cmd": "promote", "from": str(reg.path(old)), "to": str(reg.path(new)),
                             "who": who}, timeout=120)  # fmt: skip
    if not reply.get("ok"):
        print(f"the running station did not switch: {reply.get('error')}; {new} applies from its next start",
              file=sys.stderr)  # fmt: skip
    elif reply.get("switched"):
        print(f"the running station switched recipe(s) {', '.join(reply['switched'])} to {new}")
    else:
        print(f"the running station has no recipe on {old}: nothing switched now")
