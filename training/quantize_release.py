"""An int8 model inside a release: quantize (``quantize.py``), measure every precision as the station runs it,
compare int8 boxes with f32 boxes, pin the files.

Two ways in: ``write_release(..., int8_data=...)`` adds the int8 model to a release being written, and
``derive_int8_release`` makes a new version of an existing release with the same f32 files, byte for byte
(same sha256), plus its int8 model: releases are immutable, so an int8 model for a shipped release is a new
version whose ``parent`` is that release.

What the manifest gets: ``precisions`` lists, per precision, its files and its metrics on val (and test when
there is test data), measured by ``station_eval`` through ``inspect_app.detector`` (letterbox, runtime,
decode/NMS), plus the int8 gate and calibration record; ``check.int8`` the comparison with f32. The gate is
checked once more on those station numbers: an int8 model that fails there is removed, not shipped.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inspect_app.model_release import MANIFEST, file_entry, load_release
from training.data_yaml import DataSpec
from training.quantize import INT8_FILES, quantize_release

log = logging.getLogger(__name__)

INT8_CHECK_IMAGES = 50


def _write(release_dir: Path, manifest: dict[str, Any]) -> None:
    (release_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")


def add_int8(
    release_dir: Path,
    manifest: dict[str, Any],
    data: DataSpec,
    test: DataSpec | None,
    threads: int,
) -> dict[str, Any]:
    """Quantize the unpublished release in ``release_dir`` (its manifest is ``manifest``, updated in place and
    on disk). Raises ReleaseCheckError if the int8 model passed its gate but disagrees with f32 in the
    station's detector. Returns the int8 entry."""
    from training.export import check_images
    from training.release_check import check_int8
    from training.station_eval import evaluate_release

    result = quantize_release(release_dir, data, threads)
    if result.passed:
        manifest["files"].update({f: file_entry(release_dir / f) for f in result.files})
    int8 = result.manifest_entry()
    manifest["precisions"] = {"f32": {"files": ["model.onnx"]}, "int8": int8}
    _write(release_dir, manifest)

    for precision in ("f32", "int8") if result.passed else ("f32",):
        metrics = {"val": _short(evaluate_release(release_dir, data, "val", precision, threads))}
        if test is not None and "test" in test.splits:
            metrics["test"] = _short(evaluate_release(release_dir, test, "test", precision, threads))
        manifest["precisions"][precision]["metrics"] = metrics
    if result.passed:
        f32_val, int8_val = manifest["precisions"]["f32"]["metrics"]["val"], int8["metrics"]["val"]
        limits = int8["gate"]["max_drop"]
        drops = {k: round(f32_val[k] - int8_val[k], 5) for k in limits}
        int8["gate"]["station_drop"] = drops
        if any(drops[k] > limits[k] + 1e-9 for k in limits):
            # NNCF's numbers passed, the station's did not: the station's are the ones that count
            log.warning("int8 model fails the gate through the station's detector: %s; not shipped", drops)
            int8.update(files=[], metrics={})
            int8["gate"]["passed"] = False
            for f in INT8_FILES:
                manifest["files"].pop(f, None)
                (release_dir / f).unlink(missing_ok=True)
        else:
            manifest.setdefault("check", {})["int8"] = check_int8(
                release_dir, check_images(data, INT8_CHECK_IMAGES), threads
            )
    int8["seconds"] = round(result.seconds, 1)
    _write(release_dir, manifest)
    return int8


def _short(result: dict[str, Any]) -> dict[str, Any]:
    keep = ("precision", "recall", "mAP50", "mAP50-95", "per_class", "images", "data", "data_fingerprint")
    return {k: result[k] for k in keep if k in result}


def derive_int8_release(
    parent_dir: Path,
    out_dir: Path,
    version: str,
    data: DataSpec,
    test: DataSpec | None = None,
    threads: int = 2,
) -> Path:
    """``out_dir/<name>/<version>``: the parent release's f32 files and manifest, plus an int8 model.

    ``data`` must be the data the parent was trained on (its fingerprint): the calibration sample comes from
    its train split and the gate from its val split. Raises ValueError when the int8 model fails its gate
    (nothing is written: a new version without anything new would only confuse), ReleaseCheckError when it
    disagrees with f32, FileExistsError when the version exists.
    """
    parent = load_release(parent_dir)
    if parent.data_fingerprint and parent.data_fingerprint != data.fingerprint:
        raise ValueError(
            f"{data.yaml_path} is not the data {parent.model_id} was trained on (fingerprint "
            f"{data.fingerprint} != {parent.data_fingerprint}): calibrate and gate on that data"
        )
    final = Path(out_dir) / parent.name / version
    if final.exists():
        raise FileExistsError(f"release {final} already exists; releases are immutable, bump the version")
    manifest = json.loads((parent.root / MANIFEST).read_text(encoding="utf-8"))
    keep = [f for f in parent.files if f not in INT8_FILES]
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=final.parent))
    try:
        tmp.chmod(0o755)
        for f in keep:
            shutil.copy2(parent.root / f, tmp / f)
        manifest.update(
            version=version,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            parent=parent.model_id,
            files={f: manifest["files"][f] for f in keep},
            derived={
                "from": parent.model_id,
                "what": "the same f32 files (same sha256, so the same val/test metrics and check), plus an "
                "int8 model quantized from its model.onnx",
                "parent_parent": manifest.get("parent"),
            },
        )
        manifest.pop("precisions", None)
        _write(tmp, manifest)
        int8 = add_int8(tmp, manifest, data, test, threads)
        if not int8["gate"]["passed"]:
            raise ValueError(f"the int8 model of {parent.model_id} failed its accuracy gate: {int8['gate']}")
        load_release(tmp)  # every file against the manifest, as the station will check them
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
