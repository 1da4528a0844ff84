"""``inspect-app replay``: what a candidate release and/or recipe would have decided on the parts this station
already inspected; an HTML report (thumbnails embedded) and JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from inspect_app.cli_parser import UserError
from inspect_app.config import ConfigError, RecipeConfig, StationConfig, load_config

EPILOG = """\
examples:
  inspect-app replay --config station.toml --release models/synth-pcb/0.3.0 --last 5000
  inspect-app replay --demo --recipe pcb-demo --set min_conf=0.6 --set classes.pit.max_count=1
  inspect-app replay --demo --candidate-recipe pcb-lenient --recipe pcb-demo --reviewed
  inspect-app replay --config station.toml --candidate-recipe new.toml --since 7d --html out.html

Without a candidate, the live model and recipe are replayed: that gives 0 flips (a check of the replay
itself; with --mode image and JPEG images it shows what JPEG compression alone changes)."""


def add_replay_arguments(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from inspect_app.store.reports import parse_when

    p = sub.add_parser("replay", help="replay stored parts through a candidate release and/or recipe",
                       epilog=EPILOG)  # fmt: skip
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--config", type=Path, help="the station's config file (its recipes are the live ones)"
    )
    where.add_argument("--demo", action="store_true", help="the demo station's config (default)")
    p.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="the state dir holding results.db and images (default: the config's; var/ for the demo)",
    )
    cand = p.add_argument_group("candidate")
    cand.add_argument(
        "--release",
        default=None,
        metavar="NAME/VERSION|DIR",
        help="a release (NAME/VERSION in the models folder, or a directory) to run instead of the model",
    )
    cand.add_argument(
        "--candidate-recipe",
        default=None,
        metavar="FILE|NAME",
        help="rules to apply: a recipe TOML/JSON file, or the name of a recipe in the config",
    )
    cand.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                      help="change the candidate recipe (default: the live one), e.g. min_conf=0.6, "
                           "classes.pit.max_count=1, roi.xyxy=[0,0,320,320]; repeatable")  # fmt: skip
    sel = p.add_argument_group("which stored parts")
    sel.add_argument("--recipe", default="", help="only parts inspected with this recipe")
    sel.add_argument("--since", type=parse_when, help="ISO time or age such as 24h, 7d")
    sel.add_argument("--until", type=parse_when, help="ISO time or age such as 1h")
    sel.add_argument("--verdict", choices=["PASS", "FAIL"], default="")
    rev = sel.add_mutually_exclusive_group()
    rev.add_argument(
        "--reviewed",
        dest="reviewed",
        action="store_const",
        const=True,
        default=None,
        help="only parts someone reviewed",
    )
    rev.add_argument(
        "--unreviewed", dest="reviewed", action="store_const", const=False, help="only parts nobody reviewed"
    )
    sel.add_argument("--last", type=int, default=None, metavar="N", help="only the newest N matching parts")
    out = p.add_argument_group("output")
    out.add_argument(
        "--mode",
        choices=["auto", "detections", "image"],
        default="auto",
        help="auto: stored detections where exact, else the stored image (default)",
    )
    out.add_argument("--html", type=Path, default=None, help="HTML report (default: STATE_DIR/replays/...)")
    out.add_argument("--json", type=Path, default=None, help="JSON report (default: beside the HTML)")
    out.add_argument(
        "--thumbnails", type=int, default=200, metavar="N", help="flipped parts shown with image"
    )
    out.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cli_replay)
    return p


def cli_replay(args: argparse.Namespace) -> int:
    from inspect_app.replay import ReplayError, ReplayFilters, run_replay
    from inspect_app.replay.html import write_html
    from inspect_app.store.schema import StoreError

    config = _config(args)
    state_dir = Path(args.state_dir or config.state_dir)
    db = state_dir / config.store.db
    if not db.exists():
        raise UserError(f"no results database at {db}")
    if args.last is not None and args.last < 1:
        raise UserError("--last must be at least 1")
    recipe = candidate_recipe(args, config)
    release = None
    if args.release is not None:
        from inspect_app.releases import ReleaseRegistry

        release = ReleaseRegistry().path(args.release).resolve()
        if not (release / "manifest.json").is_file():
            raise UserError(f"{args.release}: not a model release (no manifest.json in {release})")
    filters = ReplayFilters(
        since_epoch=args.since.timestamp() if args.since else None,
        until_epoch=args.until.timestamp() if args.until else None,
        recipe=args.recipe, verdict=args.verdict, reviewed=args.reviewed, last=args.last,
    )  # fmt: skip
    from inspect_app.offline import configure_offline

    configure_offline(state_dir)
    progress = None if args.quiet else _Progress()
    try:
        report = run_replay(
            db, candidate_release=release, candidate_recipe=recipe, filters=filters, progress=progress,
            config=config, mode=args.mode, state_dir=state_dir,
        )  # fmt: skip
    except (ReplayError, StoreError) as exc:
        raise UserError(str(exc)) from None
    finally:
        if progress is not None:
            progress.close()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    html_path = args.html or state_dir / "replays" / f"replay-{stamp}.html"
    json_path = args.json or html_path.with_suffix(".json")
    write_html(report, html_path, thumbnails=args.thumbnails)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(report.to_json(), encoding="utf-8")
    print(format_report(report))
    print(f"\nHTML: {html_path}\nJSON: {json_path}")
    return 0


def _config(args: argparse.Namespace) -> StationConfig:
    if args.config is not None:
        return load_config(args.config)
    from inspect_app.demo import demo_config

    return demo_config(state_dir=args.state_dir or Path("var"))


def candidate_recipe(args: argparse.Namespace, config: StationConfig) -> RecipeConfig | None:
    """The recipe given by --candidate-recipe (a file or a config recipe's name) with --set applied;
    --set alone changes the live recipe of --recipe (or the active one)."""
    base: dict[str, Any] | None = None
    given = args.candidate_recipe
    if given:
        if given in config.recipes:
            base = config.recipes[given].model_dump(mode="json", exclude_none=True)
        else:
            base = _recipe_file(Path(given), config)
    elif args.overrides:
        name = args.recipe or config.active_recipe
        if name not in config.recipes:
            raise UserError(f"--set changes a recipe of the config; '{name}' is not one")
        base = config.recipes[name].model_dump(mode="json", exclude_none=True)
    if base is None:
        return None
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set {item}: expected KEY=VALUE")
        _assign(base, key.strip().split("."), _value(value.strip()))
    roi = base.get("roi")
    if isinstance(roi, dict) and "kind" not in roi:  # roi.xyxy=... or roi.points=... says which kind
        roi["kind"] = "polygon" if "points" in roi else "rect"
    try:
        return RecipeConfig.model_validate(base)
    except Exception as exc:  # noqa: BLE001  pydantic's error, shown as the user's mistake
        raise UserError(f"candidate recipe: {_first_error(exc)}") from None


def _recipe_file(path: Path, config: StationConfig) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--candidate-recipe {path}: neither a recipe of the config nor a readable file "
                        f"({exc.strerror})") from None  # fmt: skip
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}") from None
    if "recipes" in data:  # a station file: its only recipe, or the one named like the live one
        recipes = data["recipes"]
        if len(recipes) != 1:
            raise UserError(f"{path}: holds {len(recipes)} recipes; give a file with one recipe")
        data = next(iter(recipes.values()))
    if "model" not in data:
        data["model"] = config.recipes[config.active_recipe].model
    elif not Path(data["model"]).is_absolute():
        data["model"] = str((path.parent / data["model"]).resolve())
    return data


def _assign(data: dict[str, Any], keys: list[str], value: Any) -> None:
    for k in keys[:-1]:
        data = data.setdefault(k, {})
        if not isinstance(data, dict):
            raise UserError(f"--set {'.'.join(keys)}: {k} is not a table")
    data[keys[-1]] = value


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors())
    return str(exc)


class _Progress:
    """A one-line progress bar on stderr (only when it is a terminal)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.t0 = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        if not self.tty or total == 0:
            return
        width = 30
        filled = round(width * done / total)
        rate = done / max(time.monotonic() - self.t0, 1e-6)
        sys.stderr.write(
            f"\rreplay [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {rate:.0f} parts/s"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def format_report(report: Any) -> str:
    from inspect_app.store.reports import format_table

    y = report.yield_estimate
    lines = [report.summary_line(), ""]
    classes = sorted({c for d in report.flips_by_class.values() for c in d})
    if classes:
        lines.append(format_table(
            ["class", "PASS->FAIL", "FAIL->PASS"],
            [[c, report.flips_by_class["PASS->FAIL"].get(c, 0), report.flips_by_class["FAIL->PASS"].get(c, 0)]
             for c in classes],
        ))  # fmt: skip
        lines.append("")
    r = report.reviews
    if r.reviewed:
        lines.append(
            f"reviews: {r.reviewed} reviewed part(s), {r.replayed} replayed: {r.escapes_introduced} new "
            f"escape(s), {r.false_rejects_removed} false reject(s) fixed, {r.false_rejects_introduced} new "
            f"false reject(s), "
            f"{r.escapes_caught} missed defect(s) caught; reviewed defects that FAIL: {r.defects_failing} of "
            f"{r.defects_replayed}"
        )
    if report.not_replayable:
        lines.append("not replayable: " + ", ".join(f"{n} {why}" for why, n in report.not_replayable.items()))
    lines.append(y.statement)
    lines.append(report.pass_sampling)
    return "\n".join(lines)


__all__ = ["ConfigError", "add_replay_arguments", "cli_replay"]
