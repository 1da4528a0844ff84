"""``inspect-app retrain`` end to end on a tiny model: a real station's reviewed history merged with the live
model's training data, one epoch fine-tuned from the live release, released, the gate run in dry run; the
same command again keeps every step done. Slow: it trains (until its 40 s budget's share runs out) and
evaluates, about two minutes on 2 cores."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from inspect_app.cli import main
from inspect_app.config import load_config
from inspect_app.releases import ReleaseRegistry
from inspect_app.station import Station
from inspect_app.store.read import ResultsReader
from inspect_app.testing.fakes import ScriptedSource


@pytest.mark.slow
def test_retrain_from_reviews_to_a_gated_candidate(
    tmp_path: Path, tiny_release: Path, scenes_yaml: Path,
    test_images: Callable[[int, int], list[np.ndarray]], capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    models = tmp_path / "models"
    shutil.copytree(tiny_release, models / "tiny" / "0.1.0")
    ReleaseRegistry(models).set_default("tiny/0.1.0")
    toml = tmp_path / "station.toml"
    toml.write_text(
        'state_dir = "state"\nactive_recipe = "r"\n[trigger]\nmode = "software"\nqueue_size = 64\n'
        '[detector]\nbackend = "onnxruntime"\nthreads = 2\nprecision = "f32"\n'
        '[store]\nsave_pass_every = 1\ncommit_interval_ms = 5\nimage_format = "png"\n'
        '[recipes.r]\nmodel = "models/tiny/0.1.0"\nmin_conf = 0.3\n'
    )
    cfg = load_config(toml)
    script = test_images(12, 21)
    st = Station(cfg, source=ScriptedSource(script))
    st.start()
    for i in range(len(script)):
        st.trigger(f"t{i:02d}")
    assert st.wait_for_results(len(script), timeout=60)
    with ResultsReader(tmp_path / "state" / "results.db") as r:
        recs = r.recent(100)
    fails = [x.id for x in recs if x.verdict == "FAIL"]
    passes = [x.id for x in recs if x.verdict == "PASS"]
    assert fails and passes
    for iid in fails[:3]:
        st.review(iid, "confirmed_defect", "quinn")
    st.review(passes[0], "missed_defect", "quinn", class_name="pit", box=(5, 5, 25, 25)).result(timeout=10)
    st.stop()

    args = [
        "retrain",
        "--state-dir",
        str(tmp_path / "state"),
        "--root",
        str(models),
        "--config",
        str(toml),
        "--data",
        str(scenes_yaml),
        "--epochs",
        "100000",
        "--batch",
        "8",
        "--threads",
        "2",
        "--budget",
        "40s",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    for i, step in enumerate(("export reviews", "merge data", "fine-tune", "release", "gate (dry run)"), 1):
        assert f"[{i}/5] {step}: " in out
    assert "wrote 4 reviewed images" in out
    assert "gate PASSED: tiny/0.1.0-rt1" in out or "gate REFUSED: tiny/0.1.0-rt1" in out
    assert "inspect-app models promote tiny/0.1.0-rt1" in out and "[shadow]" in out
    manifest = json.loads((models / "tiny" / "0.1.0-rt1" / "manifest.json").read_text())
    retrain = manifest["retrain"]
    assert retrain["live"] == "tiny/0.1.0"
    assert retrain["reviews"]["fingerprint"].startswith("sha256:")
    assert retrain["live_data"]["fingerprint"].startswith("sha256:")
    assert retrain["merged"]["fingerprint"] not in (retrain["reviews"]["fingerprint"],
                                                    retrain["live_data"]["fingerprint"])  # fmt: skip
    assert "test" in manifest["metrics"]  # the live model's test split, so the gate compares
    assert ReleaseRegistry(models).default_ref() == "tiny/0.1.0"  # a retrain never promotes
    run = json.loads((tmp_path / "state" / "retrain" / "tiny-0.1.0-rt1" / "run" / "summary.json").read_text())
    assert 1 <= run["epochs_run"] < 100000  # the budget, not the epochs, ended it (on any machine's speed)

    # the same command again (as after an interruption): every step done is kept
    assert main([*args, "--version", "0.1.0-rt1"]) == 0
    again = capsys.readouterr().out
    for i in (1, 3, 4):
        assert f"[{i}/5] {('export reviews', '', 'fine-tune', 'release')[i - 1]}: kept from before" in again


def _station_with_models(tmp_path: Path, tiny_release: Path, store: str) -> tuple[Path, Path]:
    models = tmp_path / "models"
    shutil.copytree(tiny_release, models / "tiny" / "0.1.0")
    ReleaseRegistry(models).set_default("tiny/0.1.0")
    toml = tmp_path / "line" / "station.toml"
    toml.parent.mkdir()
    toml.write_text(
        f'state_dir = "state"\nactive_recipe = "r"\n{store}'
        f'[recipes.r]\nmodel = "{models / "tiny" / "0.1.0"}"\nmin_conf = 0.3\n'
    )
    return models, toml


def test_retrain_reads_the_reviews_where_the_config_keeps_them(
    tmp_path: Path, tiny_release: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --state-dir: the config's state dir and its [store] db name, not var/results.db."""
    models, toml = _station_with_models(tmp_path, tiny_release, '[store]\ndb = "line.db"\n')
    monkeypatch.chdir(tmp_path)  # a var/ here would be the demo's
    (tmp_path / "var").mkdir()
    assert main(["retrain", "--root", str(models), "--config", str(toml), "--budget", "1m"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'line' / 'state' / 'line.db'}: no results database" in err
    assert not (tmp_path / "var" / "retrain").exists()


def test_a_config_the_retrain_cannot_read_stops_it_before_any_work(
    tmp_path: Path, tiny_release: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models, toml = _station_with_models(tmp_path, tiny_release, "[store]\nno_such_key = 1\n")
    state = tmp_path / "state"
    assert main(["retrain", "--root", str(models), "--config", str(toml), "--state-dir", str(state)]) == 2
    err = capsys.readouterr().err
    assert "store.no_such_key" in err and str(toml) in err
    assert not (state / "retrain").exists()  # nothing trained, nothing to resume


def test_retrain_without_config_takes_the_running_stations(
    tmp_path: Path, tiny_release: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --config, a station running on --state-dir: its config (here its [store] db), as `models promote`
    takes it, so that the retrain's dry-run gate judges as the promotion will."""
    from inspect_app.control import SOCKET_NAME, ControlServer

    models, toml = _station_with_models(
        tmp_path, tiny_release, '[store]\ndb = "line.db"\n[detector]\nbackend = "onnxruntime"\n'
    )
    cfg = load_config(toml)
    st = Station(cfg, source=ScriptedSource([np.full((64, 64, 3), 90, np.uint8)], loop=True))
    st.start()
    control = ControlServer(st, cfg.state_dir / SOCKET_NAME)
    control.start()
    try:
        args = ["retrain", "--root", str(models), "--state-dir", str(cfg.state_dir), "--budget", "1m"]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "no reviewed part" in err  # line.db was read; the demo's config would look for results.db
    finally:
        control.stop()
        st.stop()
