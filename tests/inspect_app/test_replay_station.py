"""Replay on a history the real station made with a real (tiny) model: replaying the live model and recipe
gives 0 flips, from the stored detections and from the stored images alike; the CLI writes the same report
as HTML (thumbnails embedded, nothing fetched) and JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from inspect_app.cli import main
from inspect_app.config import StationConfig, parse_config
from inspect_app.replay import FAIL_TO_PASS, PASS_TO_FAIL, ReplayFilters, run_replay
from inspect_app.station import Station
from inspect_app.testing.fakes import ScriptedSource

N_PARTS = 40


def _history(root: Path, model: Path, images: list[np.ndarray], backend: str) -> StationConfig:
    cfg = parse_config({
        "state_dir": str(root / "state"),
        "trigger": {"mode": "software", "queue_size": 64},
        "detector": {"backend": backend, "threads": 2, "precision": "f32"},
        "store": {"save_pass_every": 1, "commit_interval_ms": 5, "image_format": "png"},
        "recipes": {"r": {"model": str(model), "min_conf": 0.3}},
        "active_recipe": "r",
    })  # fmt: skip
    st = Station(cfg, source=ScriptedSource(images))  # the station loads its own detector from the config
    st.start()
    for i in range(len(images)):
        st.trigger(f"p{i:02d}")
    assert st.wait_for_results(len(images), timeout=120)
    st.stop()
    return cfg


@pytest.fixture(scope="module")
def ov_history(
    tmp_path_factory: pytest.TempPathFactory, tiny_release: Path,
    test_images: Callable[[int, int], list[np.ndarray]],
) -> StationConfig:  # fmt: skip
    return _history(tmp_path_factory.mktemp("replay"), tiny_release, test_images(N_PARTS, 12), "openvino")


def _check_no_flip(cfg: StationConfig) -> None:
    db = cfg.state_dir / "results.db"
    for mode in ("detections", "image"):
        report = run_replay(db, config=cfg, mode=mode)
        assert report.selected == report.replayed == N_PARTS, report.not_replayable
        assert report.n_flips == 0 and not report.other_changes
        # the history holds both verdicts, so "no flip" is not "nothing to flip"
        assert report.yield_estimate.passed and report.yield_estimate.failed


def test_replaying_the_live_model_and_recipe_gives_no_flip(ov_history: StationConfig) -> None:
    _check_no_flip(ov_history)


def test_no_flip_with_onnxruntime_too(
    tmp_path: Path, tiny_release: Path, test_images: Callable[[int, int], list[np.ndarray]]
) -> None:
    _check_no_flip(_history(tmp_path, tiny_release, test_images(N_PARTS, 12), "onnxruntime"))


def test_cli_writes_the_api_report_as_html_and_json(ov_history: StationConfig, tmp_path: Path) -> None:
    cfg, db = ov_history, ov_history.state_dir / "results.db"
    model = cfg.recipes["r"].model
    station = tmp_path / "station.toml"
    station.write_text(
        f'state_dir = "{cfg.state_dir}"\nactive_recipe = "r"\n[store]\nimage_format = "png"\n'
        f'[detector]\nprecision = "f32"\n[recipes.r]\nmodel = "{model}"\nmin_conf = 0.3\n'
    )
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    argv = [
        "replay",
        "--config",
        str(station),
        "--set",
        "min_conf=0.6",
        "--html",
        str(html),
        "--json",
        str(js),
    ]
    assert main([*argv, "--quiet"]) == 0
    data = json.loads(js.read_text())
    api = run_replay(db, config=cfg, candidate_recipe={"model": model, "min_conf": 0.6})
    assert (
        data["flips"] == dict(api.flips)
        and data["flips"][FAIL_TO_PASS] > 0
        and data["flips"][PASS_TO_FAIL] == 0
    )
    page = html.read_text()
    assert page.count("data:image/jpeg;base64,") == api.n_flips  # one thumbnail per flipped part
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", page)  # self-contained: nothing to fetch
    # a lower threshold needs the images; the same flips through the CLI and the API
    assert main(["replay", "--config", str(station), "--set", "min_conf=0.2", "--json", str(js), "--quiet",
                 "--html", str(html)]) == 0  # fmt: skip
    low = run_replay(db, config=cfg, candidate_recipe={"model": model, "min_conf": 0.2})
    assert low.mode == "image" and json.loads(js.read_text())["flips"] == dict(low.flips)
    strict = run_replay(db, config=cfg, candidate_recipe={"model": model, "min_conf": 0.9},
                        filters=ReplayFilters(verdict="FAIL"))  # fmt: skip
    assert strict.flips[PASS_TO_FAIL] == 0


def test_cli_refuses_what_it_cannot_do(ov_history: StationConfig, tmp_path: Path) -> None:
    station = tmp_path / "station.toml"
    model = ov_history.recipes["r"].model
    station.write_text(f'state_dir = "{ov_history.state_dir}"\nactive_recipe = "r"\n'
                       f'[recipes.r]\nmodel = "{model}"\n')  # fmt: skip
    assert main(["replay", "--config", str(station), "--set", "min_conf=7", "--quiet"]) == 2
    assert main(["replay", "--config", str(station), "--set", "classes.bogus.ignore=true", "--quiet"]) == 2
    assert main(["replay", "--config", str(station), "--release", str(tmp_path), "--quiet"]) == 2
    assert main(["replay", "--config", str(station), "--state-dir", str(tmp_path / "none"), "--quiet"]) == 2


def test_cli_takes_a_release_by_its_name_in_the_models_folder(
    ov_history: StationConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = Path(ov_history.recipes["r"].model)  # <models>/tiny/0.1.0
    monkeypatch.setenv("INSPECT_APP_MODELS", str(model.parent.parent))
    station = tmp_path / "station.toml"
    station.write_text(
        f'state_dir = "{ov_history.state_dir}"\nactive_recipe = "r"\n[detector]\nprecision = "f32"\n'
        f'[recipes.r]\nmodel = "{model}"\nmin_conf = 0.3\n'
    )
    js = tmp_path / "r.json"
    argv = ["replay", "--config", str(station), "--release", "tiny/0.1.0", "--quiet"]
    assert main([*argv, "--json", str(js), "--html", str(tmp_path / "r.html")]) == 0
    data = json.loads(js.read_text())
    assert data["candidate"]["model_id"] == "tiny/0.1.0" and data["replayed"] == N_PARTS
    assert data["flips"] == {PASS_TO_FAIL: 0, FAIL_TO_PASS: 0}


def test_cli_set_builds_a_region_of_interest(ov_history: StationConfig, tmp_path: Path) -> None:
    station = tmp_path / "station.toml"
    model = ov_history.recipes["r"].model
    station.write_text(
        f'state_dir = "{ov_history.state_dir}"\nactive_recipe = "r"\n[recipes.r]\nmodel = "{model}"\n'
        "min_conf = 0.3\n"
    )
    js = tmp_path / "roi.json"
    argv = ["replay", "--config", str(station), "--set", "roi.xyxy=[0,0,20,20]", "--quiet", "--json", str(js)]
    assert main([*argv, "--html", str(tmp_path / "roi.html")]) == 0
    changes = json.loads(js.read_text())["candidate"]["recipe_changes"]
    assert changes == {"roi": [None, {"kind": "rect", "xyxy": [0.0, 0.0, 20.0, 20.0]}]}


def test_cli_candidate_recipe_from_a_file_or_the_config(ov_history: StationConfig, tmp_path: Path) -> None:
    model = ov_history.recipes["r"].model
    station = tmp_path / "station.toml"
    station.write_text(
        f'state_dir = "{ov_history.state_dir}"\nactive_recipe = "r"\n[recipes.r]\nmodel = "{model}"\n'
        f'min_conf = 0.3\n[recipes.strict]\nmodel = "{model}"\nmin_conf = 0.6\n'
    )
    lone = tmp_path / "lone.toml"
    lone.write_text("min_conf = 0.6\n")  # no model: the active recipe's
    as_station = tmp_path / "other-station.toml"
    as_station.write_text(f'[recipes.x]\nmodel = "{model}"\nmin_conf = 0.6\n')
    as_json = tmp_path / "r.json"
    as_json.write_text(json.dumps({"min_conf": 0.6}))
    flips = []
    for given in (str(lone), str(as_station), str(as_json), "strict"):
        js = tmp_path / "out.json"
        argv = ["replay", "--config", str(station), "--recipe", "r", "--candidate-recipe", given, "--quiet"]
        assert main([*argv, "--json", str(js), "--html", str(tmp_path / "out.html")]) == 0, given
        data = json.loads(js.read_text())
        assert data["candidate"]["recipe_changes"] == {"min_conf": [0.3, 0.6]}, given
        flips.append(data["flips"])
    assert flips[0][FAIL_TO_PASS] > 0 and all(f == flips[0] for f in flips)
    missing = [
        "replay",
        "--config",
        str(station),
        "--candidate-recipe",
        str(tmp_path / "none.toml"),
        "--quiet",
    ]
    assert main(missing) == 2
