"""``inspect-app evaluate``: metrics of a model on a dataset split, with ultralytics' own validator and plots.

This is literally ``YOLO(model.pt).val(...)`` (rectangular batches, conf 0.001, iou 0.7), on a data.yaml
checked by our loader first and rewritten with absolute paths, so the numbers are the ones ultralytics
reports and the ones our per-epoch validation logs. Output folder: ``metrics.json``, ``BoxPR_curve.png``
(precision-recall per class), ``confusion_matrix.png`` (+ normalised), F1/P/R curves and a few
prediction mosaics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from training.data_yaml import DataError, DataSpec, load_data_yaml

PR_CURVE = "BoxPR_curve.png"
CONFUSION = "confusion_matrix.png"


def resolve_model(path: str | Path) -> tuple[Path, int | None, str]:
    """(checkpoint, imgsz or None, label) for a release dir, a run dir or a .pt file; the label is the
    release id (name/version), ``run <folder>`` or the file."""
    p = Path(path)
    if p.is_dir() and (p / "manifest.json").is_file():
        from inspect_app.model_release import load_release

        rel = load_release(p, verify=["model.pt"])
        return rel.file("model.pt"), rel.imgsz[0], rel.model_id
    if p.is_dir() and (p / "weights" / "best.pt").is_file():
        cfg = yaml.safe_load((p / "config.yaml").read_text()) if (p / "config.yaml").is_file() else {}
        return p / "weights" / "best.pt", (cfg.get("hyp") or {}).get("imgsz"), f"run {p}"
    if p.is_file() and p.suffix == ".pt":
        return p, None, str(p)
    raise FileNotFoundError(
        f"{p}: not a model release (manifest.json), a training run (weights/best.pt) or a .pt checkpoint"
    )


def _resolved_yaml(spec: DataSpec, out: Path) -> Path:
    """data.yaml with absolute paths: ultralytics resolves relative ones against the cwd."""
    data = spec.ultralytics_dict()
    data.pop("yaml_file", None)
    path = out / "data.resolved.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def evaluate(
    model: str | Path,
    data: str | Path,
    split: str = "test",
    out: str | Path | None = None,
    imgsz: int | None = None,
    batch: int = 16,
    threads: int | None = None,
    plots: bool = True,
    fraction: float | list | None = None,
    spec: DataSpec | None = None,
    root: str | Path = "var/runs/evaluate",
) -> dict[str, Any]:
    """Validate ``model`` on ``split`` of ``data``; writes ``out/metrics.json`` (+ plots) and returns it.

    ``out`` defaults to ``root/<release name-version | run folder | file stem>-<split>``.
    """
    import torch
    from ultralytics import YOLO

    pt, model_imgsz, label = resolve_model(model)
    spec = spec or load_data_yaml(data, labelled=(split,))
    if split not in spec.sources:
        raise DataError(f"{spec.yaml_path}: no '{split}:' split to evaluate")
    imgsz = imgsz or model_imgsz or 640
    if out is None:
        p = Path(model)
        slug = (
            label.replace("/", "-") if (p / "manifest.json").is_file() else (p.name if p.is_dir() else p.stem)
        )
        out = Path(root) / f"{slug}-{split}"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    threads = threads or torch.get_num_threads()

    yolo = YOLO(str(pt), task="detect")
    names = {int(k): str(v) for k, v in yolo.names.items()}
    if names != spec.names:
        raise DataError(
            f"{spec.yaml_path}: the dataset's classes {spec.names} are not the model's {names}; "
            "metrics per class would be mislabelled"
        )
    # select_device() inside val() drops the process to 1 thread on small machines; set it back
    yolo.add_callback("on_val_start", lambda _v: torch.set_num_threads(threads))
    kwargs: dict[str, Any] = {"fraction": fraction} if fraction is not None else {}
    try:
        m = yolo.val(
            data=str(_resolved_yaml(spec, out)),
            split=split,
            imgsz=imgsz,
            batch=batch,
            device="cpu" if not torch.cuda.is_available() else None,
            plots=plots,
            project=str(out.parent.resolve()),
            name=out.name,
            exist_ok=True,
            verbose=False,
            **kwargs,
        )
    finally:
        torch.set_num_threads(threads)
    save_dir = Path(m.save_dir)
    result = metrics_dict(m)
    result.update(
        model=label,
        checkpoint=str(pt),
        data=str(spec.yaml_path),
        data_fingerprint=spec.fingerprint,
        split=split,
        imgsz=imgsz,
        batch=batch,
        images=len(spec.splits[split].images),
        plots={k: str(save_dir / f) for k, f in (("pr_curve", PR_CURVE), ("confusion_matrix", CONFUSION))}
        if plots
        else {},
    )
    (save_dir / "metrics.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def metrics_dict(m: Any) -> dict[str, Any]:
    """Our names for a ``DetMetrics``: overall and per class, like the per-epoch logs."""
    box = m.box
    per_class = {}
    for i, c in enumerate(box.ap_class_index):
        p, r, ap50, ap = box.class_result(i)
        per_class[m.names[int(c)]] = {
            "precision": round(float(p), 5),
            "recall": round(float(r), 5),
            "mAP50": round(float(ap50), 5),
            "mAP50-95": round(float(ap), 5),
            "instances": int(m.nt_per_class[int(c)]),
        }
    return {
        "metrics": {
            "precision": round(float(box.mp), 5),
            "recall": round(float(box.mr), 5),
            "mAP50": round(float(box.map50), 5),
            "mAP50-95": round(float(box.map), 5),
        },
        "per_class": per_class,
        "speed_ms": {k: round(float(v), 3) for k, v in (m.speed or {}).items()},
    }
