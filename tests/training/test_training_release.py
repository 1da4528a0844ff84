"""Releasing a trained run: exported files checked through the station's detector, a manifest that pins and
describes them, and the ``evaluate`` / ``models`` commands around them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from inspect_app.model_release import ModelError, load_release

NAMES = ["scratch", "pit", "open", "short"]


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def release(finetune_run, models_root: Path, scenes_yaml: Path, state_dir: Path) -> Path:  # type: ignore[no-untyped-def]
    from inspect_app.cli import main

    rc = main(
        [
            "models", "release", str(finetune_run.out), "--name", "scenes", "--version", "1.0.0",
            "--openvino",
            "--root", str(models_root), "--threads", "2", "--state-dir", str(state_dir),
        ]
    )  # fmt: skip
    assert rc == 0
    return models_root / "scenes" / "1.0.0"


def test_manifest_describes_data_config_parent_and_metrics(
    release: Path, finetune_run, tiny_release: Path
) -> None:  # type: ignore[no-untyped-def]
    rel = load_release(release)  # every sha256
    assert set(rel.files) == {"model.pt", "model.onnx", "model.xml", "model.bin"}
    assert rel.names == tuple(NAMES) and rel.imgsz == (64, 64)
    run_cfg = yaml.safe_load((finetune_run.out / "config.yaml").read_text())
    assert rel.data_fingerprint == run_cfg["dataset"]["fingerprint"]
    assert rel.train["hyp"]["nbs"] == 8 and rel.train["hyp"]["optimizer"] == run_cfg["hyp"]["optimizer"]
    assert rel.parent == "tiny/0.1.0"  # fine-tuned from that release's model.pt
    for split in ("val", "test"):
        m = rel.metrics[split]
        assert 0.0 < m["mAP50-95"] <= m["mAP50"] <= 1.0
        assert set(m["per_class"]) <= set(NAMES)
    check = json.loads((release / "manifest.json").read_text())["check"]
    for backend in ("onnxruntime", "openvino"):
        assert check["backends"][backend]["detections_compared"] >= 5
        assert check["backends"][backend]["max_box_diff_px"] <= 1.0


def test_onnx_metadata_and_station_detector_agree_with_pytorch(release: Path, scenes_yaml: Path) -> None:
    import cv2
    import onnx
    import torch
    from ultralytics import YOLO

    from inspect_app.detector import load_detector

    meta = {p.key: p.value for p in onnx.load(str(release / "model.onnx")).metadata_props}
    assert meta["model_name"] == "scenes" and meta["model_version"] == "1.0.0"
    assert meta["imgsz"] == "[64, 64]" and meta["stride"] == "32" and "'pit'" in meta["names"]

    threads = torch.get_num_threads()
    images = [cv2.imread(str(p)) for p in sorted((scenes_yaml.parent / "images" / "test").glob("*.png"))[:6]]
    ref = YOLO(str(release / "model.pt"))
    det = load_detector(release, "onnxruntime", threads=2)
    compared = 0
    for img in images:
        theirs = ref.predict(img, imgsz=64, conf=0.25, iou=0.7, rect=False, verbose=False, device="cpu")[
            0
        ].boxes
        ours = sorted(det.detect(img, 0.25, 0.7), key=lambda d: -d.confidence)
        confs = sorted(theirs.conf.tolist(), reverse=True)
        assert len(ours) == len(confs)
        for d, c in zip(ours, confs, strict=True):
            assert d.confidence == pytest.approx(c, abs=1e-3)
        compared += len(ours)
    torch.set_num_threads(threads)
    assert compared >= 3


def test_tampered_release_is_rejected(release: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "scenes" / "1.0.0"
    shutil.copytree(release, copy)
    onnx_file = copy / "model.onnx"
    data = bytearray(onnx_file.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte changed
    onnx_file.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256 mismatch"):
        load_release(copy)
    (copy / "model.xml").write_text("<net/>")
    with pytest.raises(ModelError, match=r"model\.xml: size is"):
        load_release(copy, verify=["model.pt"])


def test_failed_export_check_writes_no_release(
    finetune_run,
    models_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    import training.release_check as rc
    from training.export import release_model

    monkeypatch.setattr(rc, "CONF_TOL", -1.0)  # as if every exported confidence were off
    with pytest.raises(rc.ReleaseCheckError, match="release not written"):
        release_model(finetune_run.out, models_root, "scenes", "9.9.9", threads=2, out_eval=tmp_path)
    assert not (models_root / "scenes" / "9.9.9").exists()
    assert not list((models_root / "scenes").glob(".9.9.9.*"))  # no temporary leftovers either


def test_models_list_show_promote(
    release: Path, models_root: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from inspect_app.cli import main
    from inspect_app.demo import default_model_dir

    assert main(["models", "list", "--root", str(models_root)]) == 0
    out = capsys.readouterr().out
    assert "scenes/1.0.0" in out and "default, none" in out

    assert main(["models", "show", "scenes/1.0.0", "--root", str(models_root)]) == 0
    shown = capsys.readouterr().out
    assert '"data_fingerprint": "sha256:' in shown and "all files verified" in shown

    state = ["--state-dir", str(tmp_path / "state")]  # no history there: the gate has nothing to refuse
    assert main(["models", "promote", "scenes/1.0.0", "--root", str(models_root), *state]) == 0
    assert json.loads((models_root / "default.json").read_text()) == {"release": "scenes/1.0.0"}
    assert default_model_dir(models_root) == models_root / "scenes" / "1.0.0"
    capsys.readouterr()
    assert main(["models", "list", "--root", str(models_root)]) == 0
    assert "* scenes/1.0.0" in capsys.readouterr().out

    assert main(["models", "promote", "scenes/0.0.1", "--root", str(models_root), *state]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert json.loads((models_root / "default.json").read_text()) == {"release": "scenes/1.0.0"}


def test_evaluate_writes_metrics_pr_curve_and_confusion_matrix(
    release: Path, models_root: Path, scenes_yaml: Path, tmp_path: Path, state_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import cv2

    from inspect_app.cli import main

    out = tmp_path / "eval"
    monkeypatch.setenv("INSPECT_APP_MODELS", str(models_root))
    monkeypatch.chdir(tmp_path)  # NAME/VERSION is looked up in the models folder, not the working dir
    assert release == models_root / "scenes" / "1.0.0"
    args = ["evaluate", "--model", "scenes/1.0.0", "--data", str(scenes_yaml), "--split", "test"]
    assert main([*args, "--out", str(out), "--state-dir", str(state_dir)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    manifest = json.loads((release / "manifest.json").read_text())
    assert metrics["split"] == "test" and metrics["images"] == 16 and metrics["model"] == "scenes/1.0.0"
    assert metrics["metrics"]["mAP50"] == pytest.approx(manifest["metrics"]["test"]["mAP50"], abs=1e-4)
    for png in ("BoxPR_curve.png", "confusion_matrix.png"):
        img = cv2.imread(str(out / png))
        assert img is not None and img.shape[0] > 100, png
