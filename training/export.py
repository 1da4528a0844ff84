"""Release a trained model: EMA weights -> ``models/<name>/<version>/`` with a manifest that says everything
about where the model came from (the data fingerprint, the resolved training config, the parent model)
and how good it is (val and test metrics, measured on the released weights by ``evaluate``).

``write_release`` (training/release.py) does the export, the pre-release check through the station's
detector, and the atomic publish; this module gathers what goes into the manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from training.data_yaml import DataError, DataSpec, load_data_yaml
from training.evaluate import evaluate, resolve_model

CHECK_IMAGES = 8


def check_images(spec: DataSpec, n: int = CHECK_IMAGES) -> list[np.ndarray]:
    """A spread of real images from the val split (then test, then train): the check should see what the
    model will see on the line, not noise."""
    for split in ("val", "test", "train"):
        info = spec.splits.get(split)
        if info and info.images:
            paths = info.images
            idx = np.linspace(0, len(paths) - 1, num=min(n, len(paths))).round().astype(int)
            images = [cv2.imread(str(paths[i]), cv2.IMREAD_COLOR) for i in sorted(set(idx.tolist()))]
            return [im for im in images if im is not None]
    return []


def release_model(
    model: str | Path,
    models_root: str | Path,
    name: str,
    version: str,
    *,
    test_data: str | Path | None = None,
    val_data: str | Path | None = None,
    openvino: bool = False,
    threads: int | None = None,
    out_eval: str | Path | None = None,
    extra: dict[str, Any] | None = None,
    int8: bool = False,
) -> Path:
    """Release ``model`` (a run folder or an ultralytics .pt written by ``inspect-app train``).

    Metrics: ``val`` on the training run's own val split (or ``val_data``), ``test`` on ``test_data``'s test
    split (default: the training data's test split, if it has one). ``int8``: also an int8 model, calibrated
    on the training data and gated on its val split. Returns the release directory.
    """
    import torch

    pt, run_imgsz, _ = resolve_model(model)
    ckpt = torch.load(pt, map_location="cpu", weights_only=False)
    config: dict[str, Any] = dict(ckpt.get("train_config") or {})
    hyp = dict(config.get("hyp") or ckpt.get("train_args") or {})
    imgsz = int(run_imgsz or hyp.get("imgsz") or 640)
    train_yaml = config.get("data") or hyp.get("data")
    threads = threads or torch.get_num_threads()
    eval_root = Path(out_eval) if out_eval else Path("var/runs/evaluate") / f"{name}-{version}"

    train_spec = load_data_yaml(train_yaml) if train_yaml and Path(train_yaml).is_file() else None
    if train_spec is not None and config.get("dataset", {}).get("fingerprint") not in (
        None,
        train_spec.fingerprint,
    ):
        raise ValueError(
            f"{train_yaml} changed since training (fingerprint {train_spec.fingerprint} != "
            f"{config['dataset']['fingerprint']}); pass val_data/test_data to measure on other data"
        )
    metrics: dict[str, Any] = {}
    val_spec = load_data_yaml(val_data, labelled=("val",)) if val_data else train_spec
    if val_spec is not None:
        metrics["val"] = _eval_summary(
            evaluate(pt, val_spec.yaml_path, "val", eval_root / "val", imgsz, threads=threads, spec=val_spec)
        )
    test_spec = load_data_yaml(test_data, labelled=("test",)) if test_data else train_spec
    if test_data and test_spec is not None and "test" not in test_spec.sources:
        raise DataError(f"{test_spec.yaml_path}: no 'test:' split to report")
    if test_spec is not None and "test" in test_spec.sources:
        metrics["test"] = _eval_summary(
            evaluate(
                pt, test_spec.yaml_path, "test", eval_root / "test", imgsz, threads=threads, spec=test_spec
            )
        )

    from training.release import write_release

    if int8 and train_spec is None:
        raise DataError(f"int8 needs the run's training data to calibrate with; {train_yaml} is not here")
    images = check_images(val_spec or test_spec) if (val_spec or test_spec) else []
    fingerprint = (config.get("dataset") or {}).get("fingerprint") or (
        train_spec.fingerprint if train_spec else None
    )
    return write_release(
        pt,
        Path(models_root),
        name,
        version,
        imgsz,
        metrics=metrics,
        train=hyp,  # the checkpoint's train_args: flat, as ultralytics writes them
        parent=config.get("parent"),
        data_fingerprint=fingerprint,
        openvino=openvino,
        check_images=images or None,
        check_threads=threads,
        int8_data=train_spec if int8 else None,
        int8_test=test_spec if int8 and test_spec is not None and "test" in test_spec.sources else None,
        extra={
            "train": {k: v for k, v in config.items() if k != "parent"}
            or {"hyp": hyp},  # the full run config
            "epochs_trained": int(ckpt.get("epoch", -1)) + 1,
            "best_val_during_training": ckpt.get("train_metrics"),
            **(extra or {}),
        },
    )


def _eval_summary(result: dict[str, Any]) -> dict[str, Any]:
    return {
        **result["metrics"],
        "per_class": result["per_class"],
        "data": result["data"],
        "data_fingerprint": result["data_fingerprint"],
        "images": result["images"],
    }
