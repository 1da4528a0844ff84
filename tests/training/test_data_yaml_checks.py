"""A bad data.yaml or label file is reported as file:line before any training starts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from training.data_yaml import DataError, load_data_yaml


@pytest.fixture
def dataset(tmp_path: Path, scenes_yaml: Path) -> Path:
    """A private copy of the generated dataset, free to break."""
    root = tmp_path / "ds"
    shutil.copytree(scenes_yaml.parent, root, ignore=shutil.ignore_patterns("*.cache"))
    return root / "data.yaml"


def _line_of(path: Path, prefix: str) -> int:
    return next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if ln.startswith(prefix))


def test_valid_dataset_counts_backgrounds_and_fingerprints(dataset: Path) -> None:
    spec = load_data_yaml(dataset)
    assert spec.names == {0: "scratch", 1: "pit", 2: "open", 3: "short"}
    assert {s: len(i.images) for s, i in spec.splits.items()} == {"train": 32, "val": 16, "test": 16}
    assert spec.splits["train"].backgrounds == 4  # empty label files are background images, not errors
    assert spec.splits["train"].instances > 28
    assert spec.fingerprint == load_data_yaml(dataset).fingerprint

    label = dataset.parent / "labels" / "val" / "0003.txt"
    label.write_text(label.read_text().replace("0.", "0.1", 1))  # one label moved a little
    assert load_data_yaml(dataset).fingerprint != spec.fingerprint


def test_missing_split_key_and_missing_split_folder(dataset: Path) -> None:
    text = dataset.read_text()
    dataset.write_text(text.replace("val: images/val\n", ""))
    with pytest.raises(DataError, match=r"no 'val:' split") as exc:
        load_data_yaml(dataset)
    assert str(dataset) in str(exc.value)

    dataset.write_text(text.replace("val: images/val", "val: images/validation"))
    line = _line_of(dataset, "val:")
    with pytest.raises(DataError, match=r"images/validation does not exist") as exc:
        load_data_yaml(dataset)
    assert f"{dataset}:{line}:" in str(exc.value)


def test_class_id_out_of_range_names_file_and_line(dataset: Path) -> None:
    label = dataset.parent / "labels" / "train" / "0010.txt"
    lines = label.read_text().splitlines()
    lines.insert(1, "7 0.5 0.5 0.2 0.2")
    label.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"class id 7 is out of range: the dataset names 4 classes") as exc:
        load_data_yaml(dataset)
    assert f"{label}:2:" in str(exc.value)


def test_malformed_lines_are_each_reported(dataset: Path) -> None:
    label = dataset.parent / "labels" / "val" / "0001.txt"
    label.write_text("0 0.5 0.5 0.2\n1 0.5 0.5 1.4 0.2\n2 0.5 x 0.2 0.2\n3 0.5 0.5 0.0 0.2\n")
    with pytest.raises(DataError) as exc:
        load_data_yaml(dataset)
    msg = str(exc.value)
    assert "4 problem(s)" in msg
    assert f"{label}:1: expected 5 values" in msg
    assert f"{label}:2: coordinates must be normalised to [0, 1]" in msg
    assert f"{label}:3: not a number" in msg
    assert f"{label}:4: box has zero width or height" in msg


def test_all_empty_label_files_is_an_error_but_one_empty_file_is_background(dataset: Path) -> None:
    val_labels = sorted((dataset.parent / "labels" / "val").glob("*.txt"))
    val_labels[0].write_text("")
    assert load_data_yaml(dataset).splits["val"].backgrounds == 1

    for lab in val_labels:
        lab.write_text("" if lab.name.endswith("0.txt") else "\n  \n")  # zero bytes or whitespace only
    with pytest.raises(DataError, match=r"val: every label file is empty or missing \(16 images") as exc:
        load_data_yaml(dataset)
    assert f"{dataset}:{_line_of(dataset, 'val:')}:" in str(exc.value)
    assert "nothing to measure against" in str(exc.value)


def test_missing_image_in_list_file_and_label_without_image(dataset: Path) -> None:
    root = dataset.parent
    listing = root / "val.txt"
    images = sorted((root / "images" / "val").glob("*.png"))
    listing.write_text("\n".join(f"./images/val/{p.name}" for p in images[:3]) + "\n./images/val/gone.png\n")
    dataset.write_text(dataset.read_text().replace("val: images/val", "val: val.txt"))
    with pytest.raises(DataError, match=r"image ./images/val/gone.png does not exist") as exc:
        load_data_yaml(dataset)
    assert f"{listing}:4:" in str(exc.value)

    dataset.write_text(dataset.read_text().replace("val: val.txt", "val: images/val"))
    (root / "images" / "train" / "0005.png").unlink()
    with pytest.raises(DataError, match=r"no image for this label file") as exc:
        load_data_yaml(dataset)
    assert f"{root / 'labels' / 'train' / '0005.txt'}:" in str(exc.value)


def test_unreadable_image_and_bad_names(dataset: Path) -> None:
    (dataset.parent / "images" / "test" / "0002.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"0002.png: not a readable image"):
        load_data_yaml(dataset)
    dataset.write_text(dataset.read_text() + "nc: 5\n")
    with pytest.raises(DataError, match=r"nc is 5 but names lists 4 classes") as exc:
        load_data_yaml(dataset)
    assert f"{dataset}:{_line_of(dataset, 'nc:')}:" in str(exc.value)


def test_train_command_reports_data_errors_without_a_traceback(
    dataset: Path, state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from inspect_app.cli import main

    dataset.write_text(dataset.read_text().replace("train: images/train\n", ""))
    rc = main(
        ["train", "--data", str(dataset), "--out", str(tmp_path / "run"), "--state-dir", str(state_dir)]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "inspect-app train:" in err and "no 'train:' split" in err and str(dataset) in err
    assert not (tmp_path / "run").exists()  # nothing started
