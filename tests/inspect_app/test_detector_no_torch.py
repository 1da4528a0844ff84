"""The station's ONNX backends must run without importing torch, ultralytics or Lightning.

A station install has none of them; an accidental import (a helper pulled from ultralytics, a type hint
evaluated at runtime) would only show up there, so it is checked in a clean subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys
import numpy as np
from inspect_app.offline import configure_offline
configure_offline(sys.argv[1])
from inspect_app.detector import load_detector
from inspect_app.model_release import load_release, verify_onnx_shape

det = load_detector(sys.argv[2], sys.argv[3], threads=1)
det.warmup()
img = np.random.default_rng(0).integers(0, 256, (120, 90, 3), dtype=np.uint8)
dets = det.detect(img, 0.01, 0.7)
verify_onnx_shape(load_release(sys.argv[2]))
det.close()
forbidden = ("torch", "torchvision", "ultralytics", "lightning", "pytorch_lightning", "lightning_fabric")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
print(json.dumps({"loaded": loaded, "n": len(dets), "backend": det.info.backend}))
"""


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_backend_runs_without_torch(tiny_release: Path, tmp_path: Path, backend: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "state"), str(tiny_release), backend],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["backend"] == backend
    assert result["loaded"] == [], f"{backend} backend imported {result['loaded']}"
