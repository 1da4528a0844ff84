"""``inspect-app train`` end to end on a tiny dataset: it learns, logs, checkpoints, resumes, and its
validation numbers are ultralytics' own."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

NAMES = {0: "scratch", 1: "pit", 2: "open", 3: "short"}


def _epoch_rows(run: Path) -> dict[int, dict[str, float]]:
    """metrics.csv has a validation row and a train row per epoch: merge them."""
    rows: dict[int, dict[str, float]] = {}
    with open(run / "csv" / "metrics.csv") as f:
        for row in csv.DictReader(f):
            rows.setdefault(int(row["epoch"]), {}).update({k: float(v) for k, v in row.items() if v != ""})
    return rows


def _val_loss(row: dict[str, float]) -> float:
    return row["val/box_loss"] + row["val/cls_loss"] + row["val/dfl_loss"]


@pytest.fixture(scope="module")
def scratch_run(scenes_yaml: Path, state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from inspect_app.cli import main

    out = tmp_path_factory.mktemp("runs") / "scratch"
    rc = main(
        [
            "train", "--data", str(scenes_yaml), "--model", "yolo11n.yaml", "--epochs", "2", "--imgsz", "64",
            "--batch", "8", "--nbs", "8", "--close-mosaic", "1", "--seed", "3", "--accelerator", "cpu",
            "--devices", "1", "--threads", "2", "--save-period", "1", "--hyp", "warmup_epochs=0.5",
            "--out", str(out), "--state-dir", str(state_dir),
        ]
    )  # fmt: skip
    assert rc == 0
    return out


def test_two_epochs_lower_the_loss_and_log_every_metric(scratch_run: Path) -> None:
    rows = _epoch_rows(scratch_run)
    assert sorted(rows) == [0, 1]
    # validation loss: same images, no augmentation, so the drop is learning and not a different batch
    assert _val_loss(rows[1]) < _val_loss(rows[0])
    for key in ("val/mAP50", "val/mAP50-95", "val/precision", "val/recall", "val/AP50-95/pit", "lr/pg0"):
        assert key in rows[1], key
    assert 0.0 <= rows[1]["val/mAP50-95"] <= rows[1]["val/mAP50"] <= 1.0
    assert any((scratch_run / "tensorboard").glob("events.out.tfevents.*"))
    summary = json.loads((scratch_run / "summary.json").read_text())
    assert summary["epochs_run"] == 2 and len(summary["epoch_train_s"]) == 2 and summary["images_per_s"] > 0


def test_run_folder_holds_the_resolved_config(scratch_run: Path, scenes_yaml: Path) -> None:
    cfg = yaml.safe_load((scratch_run / "config.yaml").read_text())
    hyp = cfg["hyp"]
    assert (hyp["epochs"], hyp["imgsz"], hyp["batch"], hyp["nbs"], hyp["seed"], hyp["close_mosaic"]) == (
        2, 64, 8, 8, 3, 1
    )  # fmt: skip
    assert hyp["optimizer"] == "AdamW" and hyp["lr0"] == pytest.approx(
        0.002 * 5 / (4 + 4)
    )  # "auto", resolved
    assert hyp["warmup_bias_lr"] == 0.0 and hyp["warmup_epochs"] == 0.5
    assert cfg["trainer"]["threads"] == 2 and cfg["trainer"]["precision"] == "32-true"
    assert cfg["trainer"]["channels_last"] is True  # trained NHWC (faster on CPU), recorded with the run
    assert cfg["dataset"]["fingerprint"].startswith("sha256:") and cfg["data"] == str(scenes_yaml.resolve())
    assert cfg["versions"]["ultralytics"].startswith("8.4")
    for f in ("checkpoints/best.ckpt", "checkpoints/last.ckpt", "weights/best.pt", "weights/last.pt"):
        assert (scratch_run / f).is_file(), f


def test_checkpoint_loads_in_ultralytics_with_the_right_names(scratch_run: Path) -> None:
    import numpy as np
    import torch
    from ultralytics import YOLO

    threads = torch.get_num_threads()
    model = YOLO(str(scratch_run / "weights" / "last.pt"))
    assert model.task == "detect"
    assert model.names == NAMES
    result = model.predict(np.full((64, 64, 3), 128, np.uint8), imgsz=64, verbose=False, device="cpu")[0]
    assert result.boxes is not None and result.names == NAMES
    ckpt = torch.load(scratch_run / "weights" / "last.pt", weights_only=False)
    assert ckpt["ema"].args.nbs == 8 and ckpt["updates"] > 0  # the EMA, with the run's hyperparameters
    conv = next(p for p in ckpt["ema"].parameters() if p.ndim == 4)
    assert conv.is_contiguous()  # saved NCHW, as any ultralytics checkpoint, though trained channels-last
    torch.set_num_threads(threads)


def test_runs_from_before_channels_last_resume_in_nchw(scratch_run: Path, tmp_path: Path) -> None:
    from training.run import read_config

    cfg = yaml.safe_load((scratch_run / "config.yaml").read_text())
    assert read_config(scratch_run / "config.yaml").channels_last is True
    del cfg["trainer"]["channels_last"]  # as config.yaml files written before the option
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert read_config(tmp_path / "config.yaml").channels_last is False


def test_resume_continues_the_run(scratch_run: Path, tmp_path: Path, state_dir: Path) -> None:
    import torch

    from inspect_app.cli import main

    run = tmp_path / "resumed"
    shutil.copytree(scratch_run, run)
    first = torch.load(run / "checkpoints" / "epoch0.ckpt", weights_only=False)
    rc = main(["train", "--resume", str(run / "checkpoints" / "epoch0.ckpt"), "--state-dir", str(state_dir)])
    assert rc == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_run"] == 1  # epoch 0 came from the checkpoint, only epoch 1 ran again
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["epoch"] == 1
    assert last["ema"]["updates"] == first["ema"]["updates"] + 4  # EMA carried over: 32 images / batch 8
    assert last["optimizer_states"][0]["state"]  # AdamW moments restored and advanced
    assert sorted(_epoch_rows(run)) == [0, 1]  # the epoch before the resume is still in metrics.csv


def test_resume_with_more_epochs_extends_a_finished_run(
    scratch_run: Path, tmp_path: Path, state_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import torch

    from inspect_app.cli import main

    run = tmp_path / "extended"
    shutil.copytree(scratch_run, run)
    resume = ["train", "--resume", str(run), "--state-dir", str(state_dir)]
    assert main(resume) == 2  # finished: nothing to continue, and it says what to do
    assert capfd.readouterr().err.strip().endswith("the run finished its 2 epochs; to train it further, "
                                                    "give --epochs N with N > 2")
    assert main([*resume, "--epochs", "2"]) == 2
    assert "2 epoch(s) are done already" in capfd.readouterr().err
    assert main([*resume, "--epochs", "3"]) == 0
    bar = capfd.readouterr().out.replace("\r", "\n")  # Lightning's bar writes to stdout
    assert "Epoch 3/3" in bar and "Epoch 0" not in bar and "Epoch 2:" not in bar  # counted from 1
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["epoch"] == 2
    assert sorted(_epoch_rows(run)) == [0, 1, 2]
    assert yaml.safe_load((run / "config.yaml").read_text())["hyp"]["epochs"] == 3
    assert json.loads((run / "summary.json").read_text())["epochs_run"] == 1


def test_a_run_stopped_early_is_not_resumed_into_an_instant_stop(scratch_run: Path, tmp_path: Path) -> None:
    import torch

    from training.run import load_run_config, resume_plan

    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    shutil.copytree(scratch_run, tmp_path / "run")
    state = torch.load(ckpt, weights_only=False)
    key = next(k for k in state["callbacks"] if k.startswith("Patience"))
    state["callbacks"][key] = {"best_fitness": 0.4, "best_epoch": 1}  # as a run stopped by --patience 1
    torch.save(state, ckpt)
    cfg, _ = load_run_config(tmp_path / "run")
    cfg.hyp["patience"] = 1
    with pytest.raises(ValueError, match=r"stopped early .* give --patience N with N > 1"):
        resume_plan(cfg, ckpt, epochs=4, patience=None)
    assert resume_plan(cfg, ckpt, epochs=4, patience=5).hyp["patience"] == 5


def test_print_config_prints_the_resolved_config_and_makes_nothing(
    scenes_yaml: Path, tmp_path: Path, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from inspect_app.cli import main

    out = tmp_path / "run"
    argv = ["train", "--data", str(scenes_yaml), "--epochs", "7", "--hyp", "fliplr=0.0", "--out", str(out),
            "--state-dir", str(state_dir)]
    assert main([*argv, "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["hyp"]["epochs"] == 7 and printed["hyp"]["fliplr"] == 0.0
    assert printed["hyp"]["mosaic"] == 1.0  # ultralytics' defaults are resolved too
    assert printed["out"] == str(out) and set(printed["trainer"]) >= {"accelerator", "precision", "workers"}
    assert not out.exists()


def test_a_bad_hyperparameter_is_one_line_and_leaves_no_run_folder(
    scenes_yaml: Path, tmp_path: Path, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from inspect_app.cli import main

    for bad in ("bogus=1", "lr0=-1"):
        out = tmp_path / bad
        argv = ["train", "--data", str(scenes_yaml), "--hyp", bad, "--out", str(out)]
        assert main([*argv, "--state-dir", str(state_dir)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("inspect-app train: --hyp/flags: ")
        assert bad.split("=")[0] in err[0]
        assert not out.exists()


def test_optimizer_groups_and_schedule_follow_ultralytics(scratch_run: Path) -> None:
    import torch

    last = torch.load(scratch_run / "checkpoints" / "last.ckpt", weights_only=False)
    groups = {g["param_group"]: g for g in last["optimizer_states"][0]["param_groups"]}
    assert set(groups) == {"weight", "bn", "bias"}
    # nbs == batch: one step per batch, weight decay 5e-4 * 8 * 1 / 8; none on norm layers and biases
    assert groups["weight"]["weight_decay"] == pytest.approx(5e-4)
    assert groups["bn"]["weight_decay"] == 0.0 and groups["bias"]["weight_decay"] == 0.0
    lr0 = 0.002 * 5 / (4 + 4)  # optimizer=auto with 4 classes
    for g in groups.values():
        assert g["initial_lr"] == pytest.approx(lr0)
        # epoch 2 of 2, after warm-up: lr0 * lf(1) with the linear schedule, lrf 0.01
        assert g["lr"] == pytest.approx(lr0 * (0.5 * 0.99 + 0.01))
    keys = list(last["state_dict"])  # every parameter of the model, plus BatchNorm buffers
    assert len(groups["bias"]["params"]) == sum(k.endswith(".bias") for k in keys)  # BN biases included
    assert len(groups["bn"]["params"]) == sum(k.endswith(".bn.weight") for k in keys)
    assert len(groups["weight"]["params"]) == sum(
        k.endswith(".weight") and not k.endswith(".bn.weight") for k in keys
    )
    assert last["ema"]["updates"] == 8  # 2 epochs x 4 steps: accumulate 1


def test_validation_matches_ultralytics_val_on_the_same_checkpoint(
    finetune_run, scenes_yaml: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import torch
    from ultralytics import YOLO

    threads = torch.get_num_threads()
    ckpt = torch.load(finetune_run.best_pt, weights_only=False)
    ours = ckpt["train_metrics"]  # what our Lightning validation logged for this checkpoint's epoch
    assert ours["mAP50"] > 0.1, "the fine-tuned model should detect; comparing zeros proves nothing"
    theirs = YOLO(str(finetune_run.best_pt)).val(
        data=str(scenes_yaml),
        imgsz=64,
        batch=16,
        plots=False,
        device="cpu",
        verbose=False,
        project=str(tmp_path),
        name="val",  # not ultralytics' default runs/ dir (under pytest: site-packages)
    )
    torch.set_num_threads(threads)
    # the checkpoint holds the EMA in fp16 (as ultralytics'), validation ran on it in fp32: tiny slack
    assert ours["mAP50"] == pytest.approx(theirs.box.map50, abs=5e-3)
    assert ours["mAP50-95"] == pytest.approx(theirs.box.map, abs=5e-3)
    assert ours["precision"] == pytest.approx(theirs.box.mp, abs=1e-2)
    assert ours["recall"] == pytest.approx(theirs.box.mr, abs=1e-2)
    for i, c in enumerate(theirs.box.ap_class_index):
        assert ours["per_class"][NAMES[int(c)]]["mAP50-95"] == pytest.approx(
            theirs.box.class_result(i)[3], abs=1e-2
        )


def test_training_modules_stay_out_of_the_station() -> None:
    import subprocess

    code = (
        "import sys, inspect_app.cli as c; c.build_parser(); "
        "bad = [m for m in ('torch', 'ultralytics', 'pytorch_lightning') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # `inspect-app run` builds the parser with our commands, and stays light


@pytest.mark.parametrize("cfg", ["yolov8n.yaml", "yolo11s"])
def test_other_architectures_build_with_the_loss_hyperparameters(cfg: str) -> None:
    import torch

    from training.module import build_model, resolve_hyp

    hyp = resolve_hyp({"box": 5.0, "imgsz": 64})
    model, yaml_dict = build_model(cfg, NAMES, hyp)
    assert model.nc == 4 and model.names == NAMES and yaml_dict["nc"] == 4
    assert model.args.box == 5.0 and model.args.cls == 0.5 and model.args.dfl == 1.5  # read by the loss
    assert not any(p.requires_grad for n, p in model.named_parameters() if ".dfl." in n)
    batch = {
        "img": torch.rand(2, 3, 64, 64),
        "cls": torch.tensor([[1.0]]),
        "bboxes": torch.tensor([[0.5, 0.5, 0.3, 0.3]]),
        "batch_idx": torch.tensor([0.0]),
    }
    loss, items = model.loss(batch)
    assert set(items) == {"box_loss", "cls_loss", "dfl_loss"} and torch.isfinite(loss).all()


def test_missing_model_files_are_named() -> None:
    from training.module import build_model, resolve_hyp

    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        build_model("weights/yolo11n.pt", NAMES, resolve_hyp({}))
    with pytest.raises(FileNotFoundError, match=r"model yaml cfg/my-net\.yaml does not exist"):
        build_model("cfg/my-net.yaml", NAMES, resolve_hyp({}))
