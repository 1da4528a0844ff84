"""``inspect-app retrain``: from the line's reviewed parts to a candidate release, in one command.

1. export the reviewed parts as a YOLO dataset, labels corrected by the reviews (``dataset from-reviews``);
2. merge it with the live model's own training data (the data.yaml in its manifest, or ``--data``): the
   candidate must not forget what the live model learned, and the reviews alone are far too few;
3. fine-tune from the live release's weights (``model.pt``) on the merged data, within ``--budget``;
4. release it (``models release``: val and test metrics through the station's detector; the test split is the
   live model's, so both manifests' test metrics compare);
5. run the promotion gate in dry run (the reviewed parts replayed through the candidate, agreement on recent
   parts, test metrics against the live model's) and print what to run next: shadow, then promote.

The work folder (``<state-dir>/retrain/<name>-<version>``) keeps each step's output; the same command run
again continues where it stopped (an export or merge done is kept, training resumes from its last
checkpoint, a release written is not written again). ``retrain.json`` there records the fingerprints of the
live model's data, of the reviews and of the merged set, and they go into the release's manifest.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inspect_app.config import StationConfig

STEPS = ("export reviews", "merge data", "fine-tune", "release", "gate (dry run)")
# the share of the budget left at the start of training that training may use: the release's evaluations
# and the gate's replays need the rest
TRAIN_SHARE = 0.7


class RetrainError(RuntimeError):
    """The retrain cannot go on; the message says why and what to do."""


def parse_budget(text: str) -> float:
    """'30m', '2h', '90s', '1h30m' -> seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != text.strip().lower().replace(" ", ""):
        raise ValueError(f"budget {text!r}: use e.g. 30m, 2h, 1h30m, 90s")
    return sum(float(n) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[u] for n, u in parts)


def _max_time(seconds: float) -> str:
    s = max(1, int(seconds))
    return f"{s // 86400:02d}:{s % 86400 // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class Plan:
    live_ref: str
    live_dir: Path
    name: str
    version: str
    work: Path
    data: Path | None  # the live model's training data.yaml


def add_retrain_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "retrain", help="reviewed parts + the live model's data -> a fine-tuned candidate, gated (dry run)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )  # fmt: skip
    p.add_argument("--state-dir", type=Path, default=None,
                   help="the station's state dir: its results and images (default: the config's; var/ for "
                   "the demo)")  # fmt: skip
    p.add_argument("--config", type=Path, default=None,
                   help="the station's config (default: the config of the station running on --state-dir, "
                   "else the demo's)")  # fmt: skip
    p.add_argument("--root", type=Path, default=None, help="models folder (default: $INSPECT_APP_MODELS)")
    p.add_argument("--live", default=None, help="NAME/VERSION to start from (default: the default release)")
    p.add_argument("--version", default=None, help="the candidate's version (default: <live>-rtN)")
    p.add_argument("--data", type=Path, default=None,
                   help="the live model's training data.yaml (default: its manifest's)")  # fmt: skip
    p.add_argument("--budget", default="30m", help="wall-clock budget for the whole retrain (default 30m)")
    p.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs at most (default 10)")
    p.add_argument("--batch", type=int, default=None, help="default: the live model's")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--hyp", action="append", default=[], metavar="KEY=VALUE", help="other hyperparameters")
    p.set_defaults(func=cmd_retrain)


def cmd_retrain(args: argparse.Namespace) -> int:
    from inspect_app.cli_models import station_config
    from inspect_app.cli_parser import UserError
    from training.cli import _parse_hyp, _prepare

    t0 = time.monotonic()
    try:
        budget = parse_budget(args.budget)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    try:
        # the station's config before anything else, as `models promote` finds it (so the dry-run gate
        # judges as the promotion will): its state dir and results DB name where the reviews are, and a
        # bad config found now rather than after the training it would have followed
        cfg, args.state_dir = station_config(args.config, args.state_dir)
        _prepare(args.state_dir)
        plan = _plan(args)
        return _run(args, plan, budget, t0, _parse_hyp(args.hyp), cfg)
    except RetrainError as exc:
        raise UserError(str(exc)) from None


def _plan(args: argparse.Namespace) -> Plan:
    from inspect_app.model_release import ModelError
    from inspect_app.releases import ReleaseRegistry

    reg = ReleaseRegistry(args.root)
    live_ref = args.live or reg.default_ref()
    if live_ref is None:
        raise RetrainError(f"no live release: {reg.root} has no default.json; give --live NAME/VERSION")
    try:
        live = reg.load(live_ref, verify=["model.pt"])
    except ModelError as exc:
        raise RetrainError(str(exc)) from None
    if "model.pt" not in live.files:
        raise RetrainError(f"{live_ref} has no model.pt to fine-tune from")
    data = args.data or (Path(str(live.train["data"])) if live.train.get("data") else None)
    if data is not None and not data.is_file():
        raise RetrainError(f"the live model's training data {data} is not here; give it with --data")
    version = args.version or _next_version(args.state_dir / "retrain", live.name, live.version)
    if (reg.root / live.name / version / "manifest.json").is_file() and not (
        args.state_dir / "retrain" / f"{live.name}-{version}" / "retrain.json"
    ).is_file():
        raise RetrainError(f"{live.name}/{version} exists and is not this retrain's; choose --version")
    work = args.state_dir / "retrain" / f"{live.name}-{version}"
    return Plan(live_ref, reg.path(live_ref), live.name, version, work, data)


def _next_version(folder: Path, name: str, live_version: str) -> str:
    """<live>-rtN: the newest unfinished retrain of this live version (to resume it), else the next N."""
    n = 0
    for d in sorted(folder.glob(f"{name}-{live_version}-rt*")):
        m = re.fullmatch(rf"{re.escape(name)}-{re.escape(live_version)}-rt(\d+)", d.name)
        if m:
            n = max(n, int(m.group(1)))
            if not (d / "done.json").is_file():
                return f"{live_version}-rt{m.group(1)}"
    return f"{live_version}-rt{n + 1}"


def _step(i: int, text: str) -> None:
    print(f"[{i}/{len(STEPS)}] {STEPS[i - 1]}: {text}", flush=True)


def _run(
    args: argparse.Namespace, plan: Plan, budget: float, t0: float, hyp: dict[str, Any], cfg: StationConfig
) -> int:
    from inspect_app.model_release import load_release
    from inspect_app.releases import ReleaseRegistry
    from training.data_yaml import DataError, load_data_yaml

    work = plan.work
    work.mkdir(parents=True, exist_ok=True)
    state_file = work / "retrain.json"
    state: dict[str, Any] = json.loads(state_file.read_text()) if state_file.is_file() else {}
    state.update(live=plan.live_ref, candidate=f"{plan.name}/{plan.version}")
    live = load_release(plan.live_dir, verify=[])

    # 1. reviews -> YOLO dataset
    reviews = work / "reviews"
    if not (reviews / "data.yaml").is_file():
        from inspect_app.reviews_export import export_reviews

        db = args.state_dir / cfg.store.db
        if not db.is_file():
            raise RetrainError(f"{db}: no results database; nothing has been reviewed on this station")
        summary = export_reviews(db, reviews, names=list(live.names), overwrite=True)
        if not sum(summary.images.values()):
            (reviews / "data.yaml").unlink(missing_ok=True)
            raise RetrainError(f"no reviewed part with its image on disk ({summary.line()}); review some "
                               "parts in the window first")  # fmt: skip
        _step(1, summary.line())
    else:
        _step(1, f"kept from before ({reviews})")
    try:
        reviews_spec = load_data_yaml(reviews / "data.yaml")
    except DataError as exc:
        raise RetrainError(f"the reviews export: {exc}") from None
    state["reviews"] = {"fingerprint": reviews_spec.fingerprint, **reviews_spec.summary()}

    # 2. merged with the live model's data
    merged = work / "data.yaml"
    live_spec = None
    if plan.data is not None:
        try:
            live_spec = load_data_yaml(plan.data)
        except DataError as exc:
            raise RetrainError(f"the live model's data: {exc}") from None
        if live.data_fingerprint and live_spec.fingerprint != live.data_fingerprint:
            print(f"note: {plan.data} changed since {plan.live_ref} was trained (fingerprint "
                  f"{live_spec.fingerprint} != {live.data_fingerprint})")  # fmt: skip
        state["live_data"] = {"yaml": str(plan.data), "fingerprint": live_spec.fingerprint,
                              "manifest_fingerprint": live.data_fingerprint}  # fmt: skip
    if not merged.is_file():
        merged.write_text(_merged_yaml(live.names, reviews_spec, live_spec))
    merged_spec = load_data_yaml(merged)
    state["merged"] = {"yaml": str(merged), "fingerprint": merged_spec.fingerprint, **merged_spec.summary()}
    counts = ", ".join(f"{n} {split}" for split, n in merged_spec.summary()["images"].items())
    _step(2, f"{merged} ({counts} images; the live model's data: {plan.data or 'not here: reviews only'})")
    state_file.write_text(json.dumps(state, indent=2))

    # 3. fine-tune from the live release
    run_dir = work / "run"
    best = run_dir / "weights" / "best.pt"
    if not (run_dir / "summary.json").is_file():
        left = budget - (time.monotonic() - t0)
        train_s = left * TRAIN_SHARE
        if train_s < 5:
            raise RetrainError(f"the budget is spent ({args.budget}); run the same command with a larger "
                               "--budget to continue")  # fmt: skip
        _step(3, f"from {plan.live_ref}, at most {args.epochs} epochs or {train_s / 60:.1f} min")
        _train(args, plan, merged, run_dir, train_s, hyp, live.imgsz[0])
    else:
        _step(3, f"kept from before ({run_dir})")
    if not best.is_file():
        raise RetrainError(f"{run_dir}: no epoch finished within the budget; run the same command again with "
                           "a larger --budget to continue the training")  # fmt: skip

    # 4. the candidate release
    reg = ReleaseRegistry(args.root)
    candidate = reg.root / plan.name / plan.version
    if not (candidate / "manifest.json").is_file():
        from training.export import release_model

        test = _test_yaml(live, live_spec)
        _step(4, f"{plan.name}/{plan.version}: val and test metrics through the station's detector")
        release_model(run_dir, reg.root, plan.name, plan.version, test_data=test, threads=args.threads,
                      out_eval=work / "evaluate", extra={"retrain": state})  # fmt: skip
    else:
        _step(4, f"kept from before ({candidate})")
    cand = load_release(candidate, verify=[])

    # 5. the gate, dry run
    from inspect_app.promotion import gate_release

    _step(5, "the reviewed parts replayed through the candidate, agreement on recent parts, test metrics")
    result = gate_release(cfg, reg, f"{plan.name}/{plan.version}", args.state_dir / cfg.store.db,
                          progress=_progress)  # fmt: skip
    print(flush=True)
    print("\n".join(result.lines()))
    (work / "done.json").write_text(json.dumps({"gate": result.as_dict(), "seconds": time.monotonic() - t0}))
    _next_steps(plan, cand, live, result.passed, args)
    return 0


def _progress(what: str, done: int, total: int) -> None:
    """One line, rewritten in place: the gate's replays (the training has Lightning's bar)."""
    width = 30
    filled = width * done // max(total, 1)
    print(f"\r      {what:<15} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", flush=True)


def _merged_yaml(names: tuple[str, ...], reviews: Any, live: Any) -> str:
    def srcs(spec: Any, split: str) -> list[str]:
        v = spec.sources.get(split) if spec is not None else None
        return [] if not v else list(v)

    train = srcs(live, "train") + srcs(reviews, "train")
    val = srcs(live, "val") + srcs(reviews, "val")
    lines = [
        "# inspect-app retrain: the live model's training data and the line's reviewed parts",
        f"train: {json.dumps(train)}",
        f"val: {json.dumps(val or train)}",
    ]
    if srcs(live, "test"):
        lines.append(f"test: {json.dumps(srcs(live, 'test'))}")
    lines += [f"nc: {len(names)}", "names:", *(f"  {i}: {json.dumps(n)}" for i, n in enumerate(names))]
    return "\n".join(lines) + "\n"


def _test_yaml(live: Any, live_spec: Any) -> Path | None:
    """The live model's test data: the one its manifest's test metrics name, else its data's test split."""
    named = (live.metrics.get("test") or {}).get("data")
    if named and Path(str(named)).is_file():
        return Path(str(named))
    if live_spec is not None and "test" in live_spec.sources:
        return live_spec.yaml_path
    return None


def _train(args: argparse.Namespace, plan: Plan, data: Path, out: Path, seconds: float, hyp: dict[str, Any],
           imgsz: int) -> None:  # fmt: skip
    from training.run import TrainConfig, load_run_config, resume_plan, train

    ckpt = out / "checkpoints" / "last.ckpt"
    if ckpt.is_file():  # an earlier retrain stopped inside training: continue it
        cfg, resume = load_run_config(out)
        try:
            cfg = resume_plan(cfg, resume, None, None)
        except ValueError:  # its epochs are done: nothing to resume, the weights stand
            return
    else:
        resume = None
        cfg = TrainConfig(data=str(data), out=str(out), model=str(plan.live_dir / "model.pt"))
        cfg.hyp.update({"epochs": args.epochs, "imgsz": imgsz, "close_mosaic": 0, **hyp})
        if args.batch:
            cfg.hyp["batch"] = args.batch
        cfg.threads = args.threads
    cfg.max_time = _max_time(seconds)
    train(cfg, resume=resume)


def _next_steps(plan: Plan, cand: Any, live: Any, passed: bool, args: argparse.Namespace) -> None:
    def m(r: Any) -> str:
        t = r.metrics.get("test") or {}
        return f"test mAP50 {t.get('mAP50', '-')}, mAP50-95 {t.get('mAP50-95', '-')}"

    ref = f"{plan.name}/{plan.version}"
    cfg = f" --config {args.config}" if args.config else ""
    print(f"\ncandidate release: {cand.root} ({m(cand)}; live {plan.live_ref}: {m(live)})")
    print("gate (dry run): " + ("PASSED" if passed else "REFUSED: see above; the shadow may still tell more"))
    print("next:")
    print(f"  1. run it beside the live model on live parts, deciding nothing: in the station config\n"
          f"       [shadow]\n       enabled = true\n       release = \"{cand.root}\"\n"
          f"     restart the station, let it see a shift, then: inspect-app shadow report --state-dir "
          f"{args.state_dir}")  # fmt: skip
    print(f"  2. inspect-app models promote {ref} --state-dir {args.state_dir}{cfg}"
          "   (the gate again, now with the shadow's agreement)")  # fmt: skip
    print(f"  3. if the line disagrees after all: inspect-app models rollback --state-dir {args.state_dir}")
