"""Commands of the operator window: ``inspect-app gui`` and ``inspect-app ui hash-password``.

Found by ``inspect_app.cli`` through the ``inspect_app.commands`` entry point; Qt is imported only when
the window opens, so ``hash-password`` works on a machine without a display or Qt libraries.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path


def add_arguments(subparsers: argparse._SubParsersAction) -> None:
    gui = subparsers.add_parser("gui", help="the operator window on a station (default: the demo station)")
    gui.add_argument("--config", type=Path, default=None, help="station config file (default: the demo)")
    gui.add_argument("--lang", choices=["en", "zh_CN"], default=None,
                     help="language (default: $INSPECT_APP_LANG, else [ui] language in the config)")
    gui.add_argument("--max-parts", type=int, default=None, help="stop and close after N parts")
    gui.add_argument("--state-dir", type=Path, default=None, help="where the DB, images and caches go")
    gui.set_defaults(func=cmd_gui)

    ui = subparsers.add_parser("ui", help="operator window tools")
    sub = ui.add_subparsers(metavar="ACTION", required=True)
    hp = sub.add_parser("hash-password", help="hash an engineer password for [ui] engineer_password_hash")
    hp.add_argument("--password-stdin", action="store_true", help="read the password from stdin (scripts)")
    hp.set_defaults(func=cmd_hash_password)


def cmd_gui(args: argparse.Namespace) -> int:
    from inspect_app.config import load_config
    from inspect_app.offline import configure_offline

    if args.config is not None:
        cfg = load_config(args.config)
    else:
        from inspect_app.demo import demo_config

        cfg = demo_config(state_dir=args.state_dir or Path("var"))
    if args.state_dir is not None:
        cfg = cfg.model_copy(update={"state_dir": args.state_dir.resolve()})
    configure_offline(cfg.state_dir)
    from ui.app import run_gui

    return run_gui(cfg, max_parts=args.max_parts, lang=args.lang)


def cmd_hash_password(args: argparse.Namespace) -> int:
    from inspect_app.passwords import hash_password

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Engineer password: ")
        if getpass.getpass("Again: ") != password:
            print("the two passwords differ", file=sys.stderr)
            return 2
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print("# put this in the station config file:")
    print("[ui]")
    print(f'engineer_password_hash = "{hashed}"')
    return 0
