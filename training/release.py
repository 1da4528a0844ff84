"""Write a model release: ``<out_dir>/<name>/<version>/{model.pt, model.onnx, manifest.json}`` (+ OpenVINO).

The checkpoint is the one ultralytics itself loads (``YOLO("model.pt")``), the ONNX file (and optionally the
OpenVINO IR) comes from ultralytics' own exporter (so its output layout is what the station's
post-processing mirrors), and the manifest pins every file by sha256. Everything is written into a temporary
sibling directory, checked (the station's detector on the exported files must reproduce the PyTorch model,
see ``release_check``) and renamed at the end: a crash mid-export or a failed check never leaves a directory
that looks like a complete release.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from copy import deepcopy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inspect_app.model_release import MANIFEST, SCHEMA, file_entry

# Pinned, not ultralytics' default (18 for torch 2.14, and it changes with versions), so a release does not
# depend on the trainer's library versions; 17 is read by onnxruntime >= 1.12 and OpenVINO >= 2022.3, so a
# release also runs on line PCs with older runtimes.
ONNX_OPSET = 17
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def _require_offline() -> None:
    if os.environ.get("YOLO_OFFLINE") != "1":
        raise RuntimeError("call inspect_app.offline.configure_offline(state_dir) before writing a release")


def _as_model(model_or_ckpt: Any) -> Any:
    """A DetectionModel from a model, a checkpoint dict or a checkpoint path (float32, on CPU)."""
    import torch

    obj = model_or_ckpt
    if isinstance(obj, str | Path):
        from ultralytics.nn.tasks import torch_safe_load

        obj, _ = torch_safe_load(str(obj))
    if isinstance(obj, dict):
        obj = obj.get("ema") or obj.get("model")
    if not isinstance(obj, torch.nn.Module):
        raise TypeError(f"expected a DetectionModel, a checkpoint dict or a path, got {type(model_or_ckpt)}")
    return obj


def _names(model: Any) -> dict[int, str]:
    names = getattr(model, "names", None)
    if isinstance(names, list | tuple):
        names = dict(enumerate(names))
    nc = getattr(model.model[-1], "nc", None)
    if not isinstance(names, dict) or len(names) != nc or sorted(names) != list(range(len(names))):
        raise ValueError(f"model.names must name each of its {nc} classes, got {names!r}")
    return {int(k): str(v) for k, v in names.items()}


def write_release(
    model_or_ckpt: Any,
    out_dir: Path,
    name: str,
    version: str,
    imgsz: int,
    metrics: dict | None = None,
    train: dict | None = None,
    parent: str | None = None,
    *,
    data_fingerprint: str | None = None,
    openvino: bool = False,
    check_images: list | None = None,
    check_threads: int | None = None,
    extra: dict | None = None,
    int8_data: Any = None,
    int8_test: Any = None,
) -> Path:
    """Save, export, check and pin a model as the release ``out_dir/name/version``; returns that directory.

    ``check_images`` (BGR uint8 arrays; default: generated scenes) are run through the station's detector on
    every exported file and compared with the PyTorch model; on a mismatch ``ReleaseCheckError`` is raised
    and nothing is written. ``extra`` adds manifest keys (e.g. the dataset summary). ``int8_data`` (the
    training data's ``DataSpec``) adds an int8 model if it passes its accuracy gate on that data's val split
    (``training/quantize_release.py``); ``int8_test`` is where each precision's test metrics come from.
    """
    _require_offline()
    for label, seg in (("name", name), ("version", version)):
        if not _SEGMENT_RE.match(seg):
            raise ValueError(
                f"release {label} '{seg}' must be a plain directory name (letters, digits, ._+-)"
            )
    import torch
    from ultralytics import YOLO, __version__
    from ultralytics.cfg import DEFAULT_CFG_DICT

    threads = torch.get_num_threads()
    model = _as_model(model_or_ckpt)
    names = _names(model)
    stride = int(max(model.stride))
    if imgsz % stride:
        raise ValueError(f"imgsz {imgsz} must be a multiple of the model stride {stride}")

    final = Path(out_dir) / name / version
    if final.exists():
        raise FileExistsError(f"release {final} already exists; releases are immutable, bump the version")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=final.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; a release is read by the station's service user
        train_args = {**DEFAULT_CFG_DICT, **dict(getattr(model, "args", None) or {}), **(train or {})}
        train_args.update(task="detect", imgsz=imgsz)
        train_args = {k: str(v) if isinstance(v, Path) else v for k, v in train_args.items()}
        ckpt_model = deepcopy(model).cpu().float()
        ckpt_model.names = names
        ckpt_model.args = train_args
        if hasattr(ckpt_model, "criterion"):
            ckpt_model.criterion = None  # loss state is training-only and may not unpickle elsewhere
        ckpt_model = ckpt_model.half()  # as ultralytics' own checkpoints: half the size, loaded back as float
        for p in ckpt_model.parameters():
            p.requires_grad_(False)
        date = datetime.now(UTC).isoformat(timespec="seconds")
        torch.save(
            {
                "date": date,
                "version": __version__,
                "license": "AGPL-3.0 License (https://ultralytics.com/license)",
                "docs": "https://docs.ultralytics.com",
                "model": ckpt_model,
                "train_args": train_args,
                "release": {"name": name, "version": version},
                "epoch": -1,  # a final model, not a resumable training checkpoint
            },
            tmp / "model.pt",
        )

        export_args = {
            "format": "onnx",
            "imgsz": imgsz,
            "opset": ONNX_OPSET,
            "simplify": True,  # onnxslim; ultralytics only warns if it fails, the graph stays valid
            "dynamic": False,  # fixed [1,3,h,w]: the station letterboxes to exactly this size
            "half": False,
            "batch": 1,
            "device": "cpu",
            "nms": False,  # raw [1, 4+nc, N] output; NMS runs in numpy, identical for both runtimes
            "verbose": False,
        }
        exported = YOLO(str(tmp / "model.pt"), task="detect").export(**export_args)
        onnx_path = Path(exported)
        if onnx_path != tmp / "model.onnx":
            shutil.move(onnx_path, tmp / "model.onnx")
        _stamp_onnx(tmp / "model.onnx", name=name, version=version, names=names, imgsz=imgsz, stride=stride)
        files = ["model.onnx", "model.pt"]
        if openvino:
            files += _export_openvino(tmp, imgsz)

        manifest = {
            "schema": SCHEMA,
            "name": name,
            "version": version,
            "created": date,
            "task": "detect",
            "imgsz": [imgsz, imgsz],
            "stride": stride,
            "names": [names[i] for i in range(len(names))],
            "files": {f: file_entry(tmp / f) for f in files},
            "metrics": dict(metrics or {}),
            "train": dict(train or {}),
            "data_fingerprint": data_fingerprint,
            "parent": parent,
            **(extra or {}),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")

        from training.release_check import check_release, fallback_images

        runs = {"onnxruntime": "model.onnx", **({"openvino": "model.xml"} if openvino else {})}
        images = list(check_images) if check_images else fallback_images()
        manifest["check"] = check_release(tmp, images, runs, check_threads or threads)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
        if int8_data is not None:
            from training.quantize_release import add_int8

            add_int8(tmp, manifest, int8_data, int8_test, check_threads or threads)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        torch.set_num_threads(threads)  # the exporter's select_device() resets the process-wide setting
    return final


def _export_openvino(tmp: Path, imgsz: int) -> list[str]:
    """OpenVINO IR (fp32) by ultralytics' exporter, flattened to ``model.xml`` + ``model.bin``: manifests list
    plain file names, and OpenVINO finds the weights next to the xml by name."""
    from ultralytics import YOLO

    exported = Path(
        YOLO(str(tmp / "model.pt"), task="detect").export(
            format="openvino", imgsz=imgsz, dynamic=False, batch=1, device="cpu", nms=False, verbose=False
        )
    )
    try:
        xml = next(exported.glob("*.xml"))
        shutil.move(xml, tmp / "model.xml")
        shutil.move(xml.with_suffix(".bin"), tmp / "model.bin")
    finally:
        shutil.rmtree(exported, ignore_errors=True)
    return ["model.xml", "model.bin"]


def _stamp_onnx(path: Path, *, name: str, version: str, names: dict, imgsz: int, stride: int) -> None:
    """Make sure the ONNX file says which release it is (ultralytics' "version" is its own version)."""
    import onnx

    model = onnx.load(str(path))
    meta = {p.key: p.value for p in model.metadata_props}
    meta.update(
        names=str(names),  # ultralytics' format (str(dict)): its AutoBackend parses it with literal_eval
        imgsz=str([imgsz, imgsz]),
        stride=str(stride),
        model_name=name,
        model_version=version,
    )
    del model.metadata_props[:]
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(model, str(path))
