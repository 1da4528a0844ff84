"""``inspect-app``: the one command line of the station, with subcommands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from inspect_app.cli_parser import (
    ENVIRONMENT,
    USER_ERROR,
    CommandParser,
    UserError,
    add_state_dir,
    command_name,
    group_without_action,
    state_dir_with_db_alias,
    subcommands,
)
from inspect_app.config import ConfigError, StationConfig, load_config

log = logging.getLogger("inspect_app")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_command(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    group = group_without_action(args)
    if group is not None or not hasattr(args, "func"):
        (group or parser).print_help(sys.stderr)
        return USER_ERROR
    try:
        if getattr(args, "db", None) is not None and not getattr(args, "_cli_db_given", False):
            from inspect_app.cli_models import station_db

            args.db = station_db(args.state_dir)  # --state-dir: the running station's [store] db
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"{command_name(args)}: {exc}", file=sys.stderr)
        return USER_ERROR
    except ConfigError as exc:  # one line per problem, each naming its key path
        print(f"{command_name(args)}: {exc}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `inspect-app results export --csv | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def build_parser() -> CommandParser:
    p = CommandParser(prog="inspect-app", description="Machine-vision inspection station",
                      epilog=ENVIRONMENT)
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(metavar="COMMAND")

    run = sub.add_parser("run", help="run the station from a config file", epilog=ENVIRONMENT)
    run.add_argument("--config", required=True, type=Path)
    _add_run_options(run)
    run.set_defaults(func=_cmd_run)

    demo = sub.add_parser("demo", help="zero-config demo: synthetic camera, bundled model, var/",
                          epilog=ENVIRONMENT)
    _add_run_options(demo)
    demo.set_defaults(func=_cmd_demo)

    check = sub.add_parser("check-config", help="validate a config file without starting")
    check.add_argument("config", type=Path, nargs="?", help="the config file (or --config FILE)")
    check.add_argument("--config", type=Path, dest="config_option", metavar="FILE", help="the config file")
    check.add_argument("--models", action="store_true", help="also load and verify every recipe's model")
    check.set_defaults(func=_cmd_check_config)

    trig = sub.add_parser("trigger", help="software trigger: inspect one part on the running station")
    trig.add_argument("--part-id", default=None)
    add_state_dir(trig)
    trig.set_defaults(func=lambda a: _control(a, {"cmd": "trigger", "part_id": a.part_id}))
    recipe = sub.add_parser("recipe", help="switch the running station's recipe (next part on)")
    recipe.add_argument("name")
    recipe.add_argument("--who", default=os.environ.get("USER", "cli"))
    add_state_dir(recipe)
    recipe.set_defaults(func=lambda a: _control(a, {"cmd": "recipe", "name": a.name, "who": a.who}))
    for name, text in (
        ("status", "state, recipe and counters of the running station"),
        ("reset", "acknowledge an Error once its cause is gone"),
    ):
        cmd = sub.add_parser(name, help=text)
        add_state_dir(cmd)
        cmd.set_defaults(func=lambda a, n=name: _control(a, {"cmd": n}))

    dataset = sub.add_parser("dataset", help="datasets: synthetic, or from reviews").add_subparsers(
        metavar="ACTION"
    )
    synth = dataset.add_parser("synth", help="write a YOLO dataset from the synthetic part generator")
    from inspect_app.synth.dataset import add_synth_arguments, cli_synth

    add_synth_arguments(synth)
    synth.set_defaults(func=cli_synth)
    reviewed = dataset.add_parser("from-reviews", help="reviewed results as a YOLO dataset, labels corrected")
    from inspect_app.reviews_export import add_from_reviews_arguments, cli_from_reviews

    add_from_reviews_arguments(reviewed)
    state_dir_with_db_alias(reviewed)
    reviewed.set_defaults(func=cli_from_reviews)

    from inspect_app.store.reports import add_results_arguments

    for command in subcommands(add_results_arguments(sub)).values():
        state_dir_with_db_alias(command)
    from inspect_app.sources.genicam_cli import add_cameras_arguments

    add_cameras_arguments(sub)
    from inspect_app.cli_replay import add_replay_arguments

    add_replay_arguments(sub)
    from inspect_app.cli_models import add_models_arguments

    add_models_arguments(sub)  # before the plugins: training adds "models release" to this group
    from inspect_app.cli_shadow import add_shadow_arguments

    add_shadow_arguments(sub)
    _add_optional_commands(sub)
    return p


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("inspect-app")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _add_optional_commands(sub: argparse._SubParsersAction) -> None:
    """Commands of the other packages (PLC link, operator window, training) are plugins, found through
    the ``inspect_app.commands`` entry points: the station runtime never imports ``ui`` or Lightning."""
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group="inspect_app.commands"), key=lambda e: e.name):
        try:
            add_arguments = ep.load()
        except ImportError as exc:  # that package's extras are not installed: its commands are absent
            log.debug("commands of %s unavailable: %s", ep.name, exc)
            continue
        add_arguments(sub)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--headless", action="store_true", help="no window, even when a display is present")
    p.add_argument("--max-parts", type=int, default=None, help="stop after N parts")
    p.add_argument("--state-dir", type=Path, default=None, help="where the DB, images and caches go")
    p.add_argument("--backend", choices=["onnxruntime", "openvino", "ultralytics"], default=None)
    p.add_argument("--trigger", choices=["free_run", "software", "external"], default=None)
    p.add_argument("--lang", choices=["en", "zh_CN"], default=None,
                   help="the window's language (default: $INSPECT_APP_LANG, else the config's [ui] language)")


def _control(args: argparse.Namespace, request: dict) -> int:
    import json

    from inspect_app.control import send

    reply = send(args.state_dir, request)
    print(json.dumps(reply, indent=2))
    return 0 if reply.get("ok") else 1


def _cmd_check_config(args: argparse.Namespace) -> int:
    if args.config is not None and args.config_option is not None and args.config != args.config_option:
        raise UserError(f"two config files given ({args.config} and --config {args.config_option})")
    path = args.config or args.config_option
    if path is None:
        raise UserError("which config file? give it as FILE or --config FILE")
    cfg = load_config(path)
    if args.models:
        from inspect_app.offline import configure_offline
        from inspect_app.station import StartupError

        configure_offline(cfg.state_dir)
        from inspect_app.builders import build_detectors
        from inspect_app.rules import RecipeError, RecipeRules

        try:
            detectors = build_detectors(cfg)
            for name, recipe in cfg.recipes.items():
                RecipeRules(name, recipe, detectors[recipe.model].info.names)
        except (StartupError, RecipeError) as exc:
            raise UserError(f"{path}: {exc}") from exc
    print(
        f"{path}: OK ({len(cfg.recipes)} recipe(s), source {cfg.source.kind}, "
        f"trigger {cfg.trigger.mode}, detector {cfg.detector.backend})"
    )
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    return _run_station(cfg, args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from inspect_app.demo import demo_config, demo_opcua_port

    state_dir = args.state_dir or Path("var")
    refused = _state_dir_in_use(state_dir.resolve())  # before a port is looked for: one clear refusal
    if refused:
        raise UserError(refused)
    port, why = demo_opcua_port()
    print(f"demo OPC UA server on opc.tcp://127.0.0.1:{port}/{why}")
    cfg = demo_config(state_dir=state_dir, opcua_port=port)
    return _run_station(cfg, args)


def _state_dir_in_use(state_dir: Path) -> str | None:
    from inspect_app.state_dir_lock import holder_pid

    owner = holder_pid(state_dir)
    if owner is None:
        return None
    return (f"cannot start: state dir {state_dir} is in use by PID {owner} (another station runs on it); "
            "stop that station or give this one its own --state-dir")


def _run_station(cfg: StationConfig, args: argparse.Namespace) -> int:
    updates: dict = {}
    if args.state_dir is not None:
        updates["state_dir"] = args.state_dir.resolve()
    if args.backend:
        updates["detector"] = cfg.detector.model_copy(update={"backend": args.backend})
    if args.trigger:
        updates["trigger"] = cfg.trigger.model_copy(update={"mode": args.trigger})
    cfg = cfg.model_copy(update=updates)

    refused = _state_dir_in_use(cfg.state_dir)  # before touching anything of the station that runs there
    if refused:
        raise UserError(refused)
    from inspect_app.offline import configure_offline

    configure_offline(cfg.state_dir)
    if not args.headless:
        from inspect_app.frontend import FrontendUnavailable, has_display, load_frontend

        if not has_display():
            log.info("no display (DISPLAY and WAYLAND_DISPLAY are unset): running headless")
        elif (run_gui := load_frontend("gui")) is None:  # the operator window is a plugin
            log.info("the operator window is not installed: running headless")
        else:
            try:
                return run_gui(cfg, max_parts=args.max_parts, lang=args.lang)
            except FrontendUnavailable as exc:  # raised before the window started anything
                print(f"no operator window: {exc}; running headless", file=sys.stderr)
    from inspect_app.headless import run_headless

    return run_headless(cfg, max_parts=args.max_parts)


if __name__ == "__main__":
    sys.exit(main())
