"""Commands of the operator window: ``inspect-app gui`` and ``inspect-app ui hash-password``.

Found by ``inspect_app.cli`` through the ``inspect_app.commands`` entry point; Qt is imported only when
the window opens, so ``hash-password`` works on a machine without a display or Qt libraries.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inspect_app.cli_parser import ENVIRONMENT, UserError
from inspect_app.cli_password import add_password_input, read_new_password


def add_arguments(subparsers: argparse._SubParsersAction) -> None:
    gui = subparsers.add_parser("gui", help="the operator window on a station (default: the demo station)",
                                epilog=ENVIRONMENT)
    gui.add_argument("--config", type=Path, default=None, help="station config file (default: the demo)")
    gui.add_argument("--lang", choices=["en", "zh_CN"], default=None,
                     help="language (default: $INSPECT_APP_LANG, else [ui] language in the config)")
    gui.add_argument("--max-parts", type=int, default=None, help="stop and close after N parts")
    gui.add_argument("--state-dir", type=Path, default=None, help="where the DB, images and caches go")
    gui.set_defaults(func=cmd_gui)

    ui = subparsers.add_parser("ui", help="operator window tools")
    sub = ui.add_subparsers(metavar="ACTION", required=True)
    hp = sub.add_parser("hash-password", help="hash an engineer password for [ui] engineer_password_hash")
    add_password_input(hp)
    hp.set_defaults(func=cmd_hash_password)


def cmd_gui(args: argparse.Namespace) -> int:
    from inspect_app.config import load_config
    from inspect_app.offline import configure_offline

    if args.config is not None:
        cfg = load_config(args.config)
    else:
        from inspect_app.demo import demo_config, demo_opcua_port

        port, why = demo_opcua_port()
        print(f"demo OPC UA server on opc.tcp://127.0.0.1:{port}/{why}")
        cfg = demo_config(state_dir=args.state_dir or Path("var"), opcua_port=port)
    if args.state_dir is not None:
        cfg = cfg.model_copy(update={"state_dir": args.state_dir.resolve()})
    configure_offline(cfg.state_dir)
    from inspect_app.frontend import FrontendUnavailable
    from ui.app import run_gui

    try:
        return run_gui(cfg, max_parts=args.max_parts, lang=args.lang)
    except FrontendUnavailable as exc:  # the window was asked for by name: no headless fallback here
        raise UserError(f"cannot open the operator window: {exc}") from exc


def cmd_hash_password(args: argparse.Namespace) -> int:
    from inspect_app.passwords import hash_password

    try:
        hashed = hash_password(read_new_password(args))
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    print("# put this in the station config file:")
    print("[ui]")
    print(f'engineer_password_hash = "{hashed}"')
    return 0
