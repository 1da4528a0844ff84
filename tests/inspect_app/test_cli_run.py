"""`inspect-app run` as an operator starts it: a real model, a real DB, clear refusals."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path


def _config(tmp_path: Path, model: Path, **extra: str) -> Path:
    cfg = tmp_path / "station.toml"
    cfg.write_text(
        f"""
state_dir = "state"
active_recipe = "r"
[source]
kind = "synthetic"
width = 160
height = 160
defect_rate = 0.5
[trigger]
mode = "free_run"
rate_hz = 100
[detector]
backend = "{extra.get("backend", "openvino")}"
[recipes.r]
model = "{model}"
min_conf = 0.05
"""
    )
    return cfg


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inspect_app.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_run_headless_real_model_writes_db(tmp_path: Path, tiny_release: Path) -> None:
    cfg = _config(tmp_path, tiny_release)
    res = _run("run", "--config", str(cfg), "--headless", "--max-parts", "12")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "first verdict after" in res.stdout and "[final] total" in res.stdout
    started = next(ln for ln in res.stdout.splitlines() if "first verdict after" in ln)
    # the precision it runs in, and a free-run line's streams (the thread plan's: none named for one)
    assert "; model tiny/" in started and re.search(r"\(openvino f32(, \d+ streams)?\)", started)
    conn = sqlite3.connect(tmp_path / "state" / "results.db")
    rows = conn.execute("select verdict, model_id, model_sha256, t_detect_ms from inspections").fetchall()
    assert len(rows) >= 12
    manifest = json.loads((tiny_release / "manifest.json").read_text())
    assert {r[1] for r in rows} == {"tiny/0.1.0"}
    assert {r[2] for r in rows} == {manifest["files"]["model.onnx"]["sha256"]}
    assert all(r[0] in ("PASS", "FAIL") and r[3] > 0 for r in rows)
    # the summary command reads what the station wrote
    summary = _run("results", "summary", "--db", str(tmp_path / "state" / "results.db"), "--json")
    assert summary.returncode == 0, summary.stderr
    assert json.loads(summary.stdout)["total"] == len(rows)


def test_missing_model_stops_start_with_clear_message(tmp_path: Path) -> None:
    cfg = _config(tmp_path, tmp_path / "models" / "nope" / "1.0")
    res = _run("run", "--config", str(cfg), "--headless", "--max-parts", "1")
    assert res.returncode == 2
    assert "cannot start: recipes.r.model: model release not found" in res.stdout


def test_tampered_model_stops_start(tmp_path: Path, tiny_release: Path) -> None:
    copy = tmp_path / "tiny" / "0.1.0"
    shutil.copytree(tiny_release, copy)
    with open(copy / "model.onnx", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    res = _run("run", "--config", str(_config(tmp_path, copy)), "--headless", "--max-parts", "1")
    assert res.returncode == 2
    assert "sha256" in res.stdout and "model.onnx" in res.stdout


def test_check_config_with_models_refuses_unknown_class(tmp_path: Path, tiny_release: Path) -> None:
    cfg = _config(tmp_path, tiny_release)
    cfg.write_text(cfg.read_text() + "[recipes.r.classes.bridge]\nmin_conf = 0.5\n")
    res = _run("check-config", str(cfg), "--models")
    assert res.returncode == 2
    assert "recipes.r.classes: bridge not in the model's classes" in res.stderr


def test_sigterm_stops_gracefully_and_flushes(tmp_path: Path, tiny_release: Path) -> None:
    import re
    import signal
    import time

    cfg = _config(tmp_path, tiny_release)
    db = tmp_path / "state" / "results.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "inspect_app.cli", "run", "--config", str(cfg), "--headless"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
                    if c.execute("select count(*) from inspections").fetchone()[0] >= 5:
                        break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert "SIGTERM received" in err
    final = re.search(r"\[final\] total (\d+)", out)
    assert final, out
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        assert c.execute("select count(*) from inspections").fetchone()[0] == int(final.group(1))
