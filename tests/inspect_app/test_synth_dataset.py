"""The synthetic dataset writer: layout, data.yaml, and that ultralytics accepts what it writes."""

from __future__ import annotations

import argparse
import inspect
import tomllib
from pathlib import Path

import cv2
import pytest

from inspect_app.offline import configure_offline
from inspect_app.synth.dataset import add_synth_arguments, cli_synth, split_counts, write_dataset
from inspect_app.synth.generator import CLASS_NAMES, PartGenerator, from_yolo_labels

ROOT = Path(__file__).resolve().parents[2]
SIZE = 160


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("synth") / "ds"
    summary = write_dataset(out, n=20, seed=9, width=SIZE, height=SIZE, defect_rate=0.7)
    return out, summary


def test_layout_and_summary(dataset: tuple[Path, object]) -> None:
    out, summary = dataset
    assert summary.images == {"train": 16, "val": 2, "test": 2}  # type: ignore[attr-defined]
    instances = 0
    for split, count in summary.images.items():  # type: ignore[attr-defined]
        images = sorted((out / "images" / split).glob("*.jpg"))
        labels = sorted((out / "labels" / split).glob("*.txt"))
        assert len(images) == len(labels) == count
        assert [p.stem for p in images] == [p.stem for p in labels]
        for img_path, lbl_path in zip(images, labels, strict=True):
            img = cv2.imread(str(img_path))
            assert img is not None and img.shape == (SIZE, SIZE, 3)
            truth = from_yolo_labels(lbl_path.read_text().splitlines(), SIZE, SIZE)
            instances += len(truth)
            # the labels are the generator's truth for that very part
            index = int(img_path.stem.rsplit("_", 1)[1])
            part = PartGenerator("pcb", SIZE, SIZE, 9, 0.7, layouts=32).generate(index)
            assert [t.class_id for t in truth] == [t.class_id for t in part.truth]
    assert instances == sum(summary.instances.values()) > 0  # type: ignore[attr-defined]
    clean = sum(1 for p in out.glob("labels/*/*.txt") if p.read_text() == "")
    assert clean == summary.clean  # type: ignore[attr-defined]
    assert set(summary.instances) == set(CLASS_NAMES)  # type: ignore[attr-defined]


def test_data_yaml(dataset: tuple[Path, object]) -> None:
    out, _ = dataset
    text = (out / "data.yaml").read_text()
    assert f'path: "{out.resolve()}"' in text
    expected = ("train: images/train", "val: images/val", "test: images/test", "nc: 4", "  0: scratch",
                "  1: pit", "  2: open", "  3: short", "  seed: 9", '  style: "pcb"', "  n: 20")
    for line in expected:
        assert line in text.splitlines(), line


def test_ultralytics_accepts_the_dataset(dataset: tuple[Path, object], tmp_path: Path) -> None:
    out, _ = dataset
    configure_offline(tmp_path / "state")  # before ultralytics is imported: it must not reach out or write ~
    from ultralytics.data.utils import check_det_dataset, img2label_paths, verify_image_label

    data = check_det_dataset(str(out / "data.yaml"), autodownload=False)
    assert data["nc"] == 4
    assert data["names"] == dict(enumerate(CLASS_NAMES))
    assert Path(data["val"]) == out / "images" / "val"
    images = sorted(str(p) for p in out.glob("images/*/*.jpg"))
    assert len(images) == 20
    for im_file, lb_file in zip(images, img2label_paths(images), strict=True):
        assert Path(lb_file).exists()  # ultralytics finds each label where we put it
        result = verify_image_label((im_file, lb_file, "", False, 4, 0, 0, False))
        nm, nf, ne, nc, msg = result[5:]
        assert (nm, nf, nc) == (0, 1, 0), msg
        assert ne == (Path(lb_file).read_text() == "")


def test_refuses_a_non_empty_directory_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    write_dataset(out, n=6, seed=1, width=64, height=64, style="surface")
    stale = out / "labels" / "train" / "old.txt"
    stale.write_text("")
    keep = out / "README.txt"
    keep.write_text("notes")
    with pytest.raises(FileExistsError, match="not empty"):
        write_dataset(out, n=4, seed=2, width=64, height=64, style="surface")
    summary = write_dataset(out, n=4, seed=2, width=64, height=64, style="surface", overwrite=True)
    assert not stale.exists() and keep.exists()  # our files replaced, the user's left alone
    assert sum(summary.images.values()) == len(list(out.glob("images/*/*.jpg"))) == 4
    assert set(summary.instances) == {"scratch", "pit"}


def test_split_counts() -> None:
    assert split_counts(10, (0.8, 0.1, 0.1)) == {"train": 8, "val": 1, "test": 1}
    assert split_counts(2, (0.8, 0.1, 0.1)) == {"train": 1, "val": 1, "test": 0}
    with pytest.raises(ValueError, match="sum"):
        split_counts(10, (0.5, 0.1, 0.1))
    with pytest.raises(ValueError, match="val"):
        split_counts(10, (0.9, 0.0, 0.1))


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_synth_arguments(parser)
    args = parser.parse_args(["--out", str(tmp_path / "ds"), "--n", "5", "--seed", "3", "--style", "surface",
                              "--width", "64", "--height", "64", "--defect-rate", "1"])
    assert cli_synth(args) == 0
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and "wrote 5 images" in line and "train 3, val 1, test 1" in line
    assert "scratch" in line and "pit" in line
    assert cli_synth(args) == 2  # the directory is no longer empty
    assert "not empty" in capsys.readouterr().err


def test_spec_file_is_write_dataset_arguments() -> None:
    spec = tomllib.loads((ROOT / "datasets" / "synth-pcb.toml").read_text())
    params = inspect.signature(write_dataset).parameters
    assert set(spec) <= set(params) - {"out", "overwrite"}
    assert spec["style"] == "pcb" and spec["n"] > 0
