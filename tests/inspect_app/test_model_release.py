"""A release that is missing, incomplete, tampered with or not the model it claims to be is refused with
a message an operator can act on."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from inspect_app.detector import load_detector
from inspect_app.detector.onnx_backend import OnnxRuntimeDetector
from inspect_app.detector.openvino_backend import OpenVinoDetector
from inspect_app.model_release import ModelError, load_release, sha256_file, verify_onnx_shape


@pytest.fixture
def release(tiny_release: Path, tmp_path: Path) -> Path:
    """A private copy each test may damage."""
    return Path(shutil.copytree(tiny_release, tmp_path / "tiny" / "0.1.0"))


def _manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def _write_manifest(path: Path, data: dict) -> None:
    (path / "manifest.json").write_text(json.dumps(data))


def _repin(path: Path, name: str) -> None:
    """Update the manifest after replacing a file, as a careless (or malicious) re-release would."""
    data = _manifest(path)
    data["files"][name] = {"sha256": sha256_file(path / name), "bytes": (path / name).stat().st_size}
    _write_manifest(path, data)


def test_valid_release_loads(release: Path) -> None:
    r = load_release(release)
    assert r.model_id == "tiny/0.1.0"
    assert r.names == ("scratch", "pit", "open", "short")
    assert r.imgsz == (64, 64) and r.stride == 32 and r.task == "detect"
    assert r.file("model.onnx") == release / "model.onnx"
    assert r.metrics["note"] == "test fixture"
    verify_onnx_shape(r)
    det = load_detector(release, "onnxruntime", threads=1)
    assert det.info.sha256 == _manifest(release)["files"]["model.onnx"]["sha256"]
    assert det.info.model_id == "tiny/0.1.0" and det.info.imgsz == (64, 64)
    assert det.info.backend == "onnxruntime" and det.info.path == str(release / "model.onnx")


def test_onnx_metadata_names_the_release(release: Path) -> None:
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(release / "model.onnx")).metadata_props}
    assert meta["model_name"] == "tiny" and meta["model_version"] == "0.1.0"
    assert meta["imgsz"] == "[64, 64]" and meta["stride"] == "32"
    assert meta["names"] == str({0: "scratch", 1: "pit", 2: "open", 3: "short"})


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_release(tmp_path / "nope" / "1.0.0")
    with pytest.raises(ModelError, match="does not exist"):
        load_detector(tmp_path / "nope", "onnxruntime", 1)


def test_not_a_directory(release: Path) -> None:
    with pytest.raises(ModelError, match="not a directory"):
        load_release(release / "model.onnx")


def test_missing_manifest(release: Path) -> None:
    (release / "manifest.json").unlink()
    with pytest.raises(ModelError, match=r"no manifest\.json"):
        load_release(release)


def test_manifest_not_json(release: Path) -> None:
    (release / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_release(release)


def test_manifest_unreadable(release: Path) -> None:
    (release / "manifest.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ModelError, match="cannot read manifest"):
        load_release(release)


@pytest.mark.parametrize("key", ["names", "imgsz", "files", "schema"])
def test_manifest_missing_key(release: Path, key: str) -> None:
    data = _manifest(release)
    del data[key]
    _write_manifest(release, data)
    with pytest.raises(ModelError, match=f"missing key.*{key}"):
        load_release(release)


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("imgsz", [64], "imgsz"),
        ("names", [], "names"),
        ("schema", 2, "schema 2 is not supported"),
        ("task", "segment", "not supported"),
        ("files", {"../../etc/passwd": {"sha256": "0" * 64, "bytes": 1}}, "not allowed"),
        ("files", {"model.onnx": {"sha256": "abc", "bytes": 1}}, "64 hex"),
    ],
)
def test_manifest_invalid_values(release: Path, key: str, value: object, words: str) -> None:
    data = _manifest(release)
    data[key] = value
    _write_manifest(release, data)
    with pytest.raises(ModelError, match=words):
        load_release(release)


def test_listed_file_missing(release: Path) -> None:
    (release / "model.pt").unlink()
    with pytest.raises(ModelError, match=r"'model\.pt' listed in the manifest is missing"):
        load_release(release)


def test_truncated_file(release: Path) -> None:
    data = (release / "model.onnx").read_bytes()
    (release / "model.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="truncated"):
        load_release(release)


def test_tampered_file_names_both_hashes(release: Path) -> None:
    path = release / "model.onnx"
    expected = _manifest(release)["files"]["model.onnx"]["sha256"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the hash can tell
    path.write_bytes(bytes(data))
    actual = sha256_file(path)
    for call in (lambda: load_release(release), lambda: load_detector(release, "openvino", 1)):
        with pytest.raises(ModelError, match="sha256 mismatch") as exc:
            call()
        assert expected in str(exc.value) and actual in str(exc.value)


def test_only_the_used_file_is_hashed(release: Path) -> None:
    """The station hashes the file it runs; a tampered checkpoint it never opens is caught by a full load."""
    data = bytearray((release / "model.pt").read_bytes())
    data[-10] ^= 0xFF
    (release / "model.pt").write_bytes(bytes(data))
    load_release(release, verify=["model.onnx"])
    load_detector(release, "onnxruntime", 1)
    with pytest.raises(ModelError, match=r"model\.pt: sha256 mismatch"):
        load_release(release)


def test_file_not_in_release(release: Path) -> None:
    with pytest.raises(ModelError, match=r"no file 'model\.xml'"):
        load_detector(release, "openvino", 1, file="model.xml")
    with pytest.raises(ModelError, match="unknown detector backend"):
        load_detector(release, "tensorrt", 1)


def test_wrong_input_shape(release: Path, state_dir: Path) -> None:
    import torch
    from ultralytics import YOLO

    threads = torch.get_num_threads()
    other = Path(YOLO(str(release / "model.pt")).export(format="onnx", imgsz=96, opset=17, verbose=False))
    torch.set_num_threads(threads)
    os.replace(other, release / "model.onnx")
    _repin(release, "model.onnx")
    for backend in ("onnxruntime", "openvino"):
        with pytest.raises(ModelError, match=r"input shape is \[1, 3, 96, 96\].*\[1, 3, 64, 64\]"):
            load_detector(release, backend, 1)


def test_wrong_class_count(release: Path) -> None:
    data = _manifest(release)
    data["names"] = [*data["names"], "burr"]
    _write_manifest(release, data)
    with pytest.raises(ModelError, match=r"output shape is \[1, 8, 84\], expected \[1, 9, N\]"):
        load_detector(release, "onnxruntime", 1)


def test_renamed_classes(release: Path) -> None:
    data = _manifest(release)
    data["names"] = ["pit", "scratch", "open", "short"]  # swapped: every verdict would name the wrong defect
    _write_manifest(release, data)
    with pytest.raises(ModelError, match="class names in the model"):
        load_detector(release, "openvino", 1)


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_corrupt_model_with_matching_hash(release: Path, backend: str) -> None:
    noise = np.random.default_rng(0).integers(0, 256, 200_000, np.uint8)
    (release / "model.onnx").write_bytes(noise.tobytes())
    _repin(release, "model.onnx")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        load_detector(release, backend, 1)
    # the backends themselves also turn runtime errors into ModelError (no raw traceback for the operator)
    cls = OnnxRuntimeDetector if backend == "onnxruntime" else OpenVinoDetector
    with pytest.raises(ModelError, match="cannot load the model"):
        cls(load_release(release), 1)


def test_hashing_is_streamed_and_fast(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 10 * 1024 * 1024, np.uint8).tobytes())
    t0 = time.perf_counter()
    digest = sha256_file(path)
    elapsed = time.perf_counter() - t0
    import hashlib

    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert elapsed < 2.0, f"hashing 10 MB took {elapsed:.2f}s"
