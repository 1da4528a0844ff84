"""The registry of releases, the promotion gate, ``models promote`` / ``rollback`` and their audit rows.

Models: tiny real releases whose answer is known (``testing.const_models``: a part FAILs when its mean
brightness is above the model's threshold), run by the real onnxruntime backend. History: a real station
judged twelve gray parts of known brightness with the live model, and a person reviewed three of them.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from inspect_app.cli import main
from inspect_app.config import StationConfig, load_config
from inspect_app.config_quality import PromotionConfig
from inspect_app.promotion import gate_release
from inspect_app.promotion_gate import GateEvidence, ReviewedOutcome, evaluate_gate
from inspect_app.releases import ReleaseRegistry
from inspect_app.station import Station
from inspect_app.store.read import ResultsReader
from inspect_app.testing.const_models import gray_image, write_brightness_release

# part id -> gray level; the live model (threshold 0.5) FAILs levels above 127
LEVELS = {
    "d1": 200, "d2": 190, "f3": 180, "f4": 170, "fr": 140,
    "p1": 20, "p2": 40, "p3": 60, "p4": 80, "p5": 100, "p6": 110, "p7": 120,
}  # fmt: skip
TEST = {"test": {"mAP50": 0.90, "mAP50-95": 0.60}}


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StationConfig, Path]:
    """(the config file, its config, the models folder) of a station with a judged and reviewed history."""
    root = tmp_path_factory.mktemp("line")
    models = root / "models"
    write_brightness_release(models, "line", "1.0.0", 0.5, metrics=TEST)
    write_brightness_release(models, "line", "1.1.0", 0.6, metrics=TEST)  # fixes the false reject
    write_brightness_release(models, "line", "2.0.0", 2.0, metrics=TEST)  # blind: every part PASSes
    write_brightness_release(models, "line", "1.2.0", 0.6, metrics={"test": {"mAP50": 0.80, "mAP50-95": 0.6}})
    ReleaseRegistry(models).set_default("line/1.0.0", who="setup")
    toml = root / "station.toml"
    toml.write_text(
        'state_dir = "state"\nactive_recipe = "r"\n[trigger]\nmode = "software"\nqueue_size = 64\n'
        '[detector]\nbackend = "onnxruntime"\nthreads = 1\nprecision = "f32"\n'
        '[store]\nsave_pass_every = 1\ncommit_interval_ms = 5\nimage_format = "png"\n'
        '[recipes.r]\nmodel = "models/line/1.0.0"\nmin_conf = 0.5\n'
    )
    cfg = load_config(toml)
    from inspect_app.testing.fakes import ScriptedSource

    st = Station(cfg, source=ScriptedSource([gray_image(v) for v in LEVELS.values()]))
    st.start()
    for pid in LEVELS:
        st.trigger(pid)
    assert st.wait_for_results(len(LEVELS), timeout=60)
    with ResultsReader(root / "state" / "results.db") as r:
        ids = {rec.part_id: rec.id for rec in r.recent(100)}
    st.review(ids["d1"], "confirmed_defect", "quinn")
    st.review(ids["d2"], "confirmed_defect", "quinn")
    st.review(ids["fr"], "false_reject", "quinn").result(timeout=10)
    st.stop()
    return toml, cfg, models


def _audit(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as c:
        return c.execute("select who, action, new from audit order by id").fetchall()


def test_the_history_is_what_the_gate_tests_assume(line: tuple[Path, StationConfig, Path]) -> None:
    _, cfg, _ = line
    with ResultsReader(Path(cfg.state_dir) / "results.db") as r:
        verdicts = {rec.part_id: rec.verdict for rec in r.recent(100)}
    assert {p for p, v in verdicts.items() if v == "FAIL"} == {"d1", "d2", "f3", "f4", "fr"}


def test_gate_refuses_a_candidate_that_misses_a_reviewed_defect(
    line: tuple[Path, StationConfig, Path],
) -> None:
    _, cfg, models = line
    result = gate_release(cfg, ReleaseRegistry(models), "line/2.0.0", Path(cfg.state_dir) / "results.db")
    assert not result.passed
    failed = {c.name: c.detail for c in result.failed()}
    assert "2 of 2 reviewed defects would PASS" in failed["confirmed defects"]


def test_gate_accepts_a_candidate_that_keeps_every_reviewed_defect(
    line: tuple[Path, StationConfig, Path],
) -> None:
    _, cfg, models = line
    result = gate_release(cfg, ReleaseRegistry(models), "line/1.1.0", Path(cfg.state_dir) / "results.db")
    assert result.passed, result.lines()
    checks = {c.name: c.detail for c in result.checks}
    assert checks["confirmed defects"].startswith("all 2 reviewed defects still FAIL")
    assert checks["false rejects"].startswith("1 of 1 reviewed false rejects PASS")
    assert checks["agreement"].startswith("11 of 12 replay parts agree")


def test_gate_refuses_worse_test_metrics(line: tuple[Path, StationConfig, Path]) -> None:
    _, cfg, models = line
    result = gate_release(cfg, ReleaseRegistry(models), "line/1.2.0", Path(cfg.state_dir) / "results.db")
    assert [c.name for c in result.failed()] == ["test mAP50"]


def test_promote_refuses_then_force_then_rollback_all_audited(
    line: tuple[Path, StationConfig, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    toml, cfg, models = line
    db = Path(cfg.state_dir) / "results.db"
    common = ["--root", str(models), "--state-dir", str(cfg.state_dir), "--config", str(toml)]
    reg = ReleaseRegistry(models)

    assert main(["models", "promote", "line/2.0.0", "--who", "erin", *common]) == 1
    assert "NOT promoted" in capsys.readouterr().err
    assert reg.default_ref() == "line/1.0.0"  # a refusal changes nothing ...
    assert _audit(db)[-1][:2] == ("erin", "model.promote.refused")  # ... but is audited

    assert main(["models", "promote", "line/2.0.0", "--force", *common]) == 2  # --force needs --reason
    assert main(["models", "promote", "line/2.0.0", "--force", "--reason", "line trial 7", "--who", "erin",
                 *common]) == 0  # fmt: skip
    assert reg.default_ref() == "line/2.0.0" and reg.previous_ref() == "line/1.0.0"
    who, action, new = _audit(db)[-1]
    assert (who, action) == ("erin", "model.promote")
    assert json.loads(new)["forced"] is True and json.loads(new)["reason"] == "line trial 7"

    assert main(["models", "rollback", "--who", "rita", "--reason", "escapes", *common]) == 0
    assert reg.default_ref() == "line/1.0.0" and reg.previous_ref() == "line/2.0.0"
    assert (models / "line" / "2.0.0" / "manifest.json").is_file()  # the rolled-back release stays
    assert _audit(db)[-1][:2] == ("rita", "model.rollback")
    assert [h.action for h in reg.history()][-3:] == ["promote", "promote", "rollback"]
    capsys.readouterr()
    assert main(["models", "list", *common[:2]]) == 0
    out = capsys.readouterr().out
    assert "* line/1.0.0" in out and "< line/2.0.0" in out


def test_rollback_without_a_previous_release_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_brightness_release(tmp_path / "models", "m", "1", 0.5)
    ReleaseRegistry(tmp_path / "models").set_default("m/1")
    args = ["models", "rollback", "--root", str(tmp_path / "models"), "--state-dir", str(tmp_path / "s")]
    assert main(args) == 2
    assert "nothing to roll back to" in capsys.readouterr().err


def test_registry_sorts_versions_lists_broken_releases_and_keeps_the_previous(tmp_path: Path) -> None:
    for v in ("0.10.0", "0.9.0", "0.9.1"):
        write_brightness_release(tmp_path, "m", v, 0.5)
    (tmp_path / "m" / "0.9.1" / "model.onnx").write_bytes(b"truncated")
    reg = ReleaseRegistry(tmp_path)
    assert reg.refs() == ["m/0.9.0", "m/0.9.1", "m/0.10.0"]
    broken = {e.ref: e.error for e in reg.entries()}
    assert broken["m/0.9.0"] is None and "size is 9 bytes" in (broken["m/0.9.1"] or "")
    assert reg.default_ref() is None and reg.default_dir() == tmp_path / "missing-default-release"
    reg.set_default("m/0.9.0")
    reg.set_default("m/0.10.0")
    pointer = json.loads((tmp_path / "default.json").read_text())
    assert pointer == {"release": "m/0.10.0", "previous": "m/0.9.0"}
    assert not list(tmp_path.glob(".default.json*"))  # no temporary file left behind
    with pytest.raises(Exception, match="not a release"):
        reg.set_default("m/9.9.9")


def test_gate_checks_each_rule() -> None:
    cfg = PromotionConfig(false_reject_pass_min=0.5, agreement_min=0.9, min_parts=10, metric_tolerance=0.01)
    good = (
        ReviewedOutcome(1, "defect", "FAIL", "FAIL"),
        ReviewedOutcome(2, "defect", "FAIL", None, "image file missing"),
        ReviewedOutcome(3, "good", "FAIL", "PASS"), ReviewedOutcome(4, "good", "FAIL", "FAIL"),
    )  # fmt: skip
    ev = GateEvidence("c/1", "l/1", good, 20, 19, "shadow", {"mAP50": 0.9}, {"mAP50": 0.895})
    result = evaluate_gate(ev, cfg)
    assert result.passed, result.lines()
    assert "1 could not be replayed: 1 image file missing" in result.checks[0].detail  # never as a pass
    escape = (*good, ReviewedOutcome(5, "defect", "FAIL", "PASS"))
    assert [c.name for c in evaluate_gate(GateEvidence("c/1", "l/1", escape), cfg).failed()] == [
        "confirmed defects", "agreement"]  # fmt: skip
    gone = (ReviewedOutcome(6, "defect", "FAIL", None, "image file missing"),)
    detail = evaluate_gate(GateEvidence("c/1", "l/1", gone, 20, 20, "replay"), cfg).checks[0].detail
    assert detail.startswith("none of the 1 reviewed defects could be replayed")  # not "all 0 still FAIL"
    few = GateEvidence("c/1", "l/1", good, 5, 5, "replay")
    assert "at least 10 needed" in evaluate_gate(few, cfg).failed()[0].detail
    worse = GateEvidence("c/1", "l/1", good, 20, 20, "replay", {"mAP50": 0.9}, {"mAP50": 0.88})
    assert [c.name for c in evaluate_gate(worse, cfg).failed()] == ["test mAP50"]


def test_promote_and_rollback_switch_a_running_station(
    line: tuple[Path, StationConfig, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from inspect_app.control import SOCKET_NAME, ControlServer
    from inspect_app.testing.fakes import ScriptedSource

    toml, cfg, models = line
    common = ["--root", str(models), "--state-dir", str(cfg.state_dir), "--config", str(toml)]
    common += ["--who", "erin"]
    st = Station(cfg, source=ScriptedSource([gray_image(100)], loop=True))
    st.start()
    control = ControlServer(st, Path(cfg.state_dir) / SOCKET_NAME)
    control.start()
    try:
        assert main(["models", "promote", "line/1.1.0", *common]) == 0
        assert "switched recipe(s) r to line/1.1.0" in capsys.readouterr().out
        assert st.config.recipes["r"].model == str((models / "line" / "1.1.0").resolve())
        assert main(["models", "rollback", *common]) == 0
        assert st.config.recipes["r"].model == str((models / "line" / "1.0.0").resolve())
    finally:
        control.stop()
        st.stop()
    actions = [a for _, a, _ in _audit(Path(cfg.state_dir) / "results.db")]
    # the CLI's row first (the gate passed, the pointer moved), then the running station's switch
    assert actions[-4:] == ["model.promote", "model.switch", "model.rollback", "model.switch"]


def test_the_control_socket_switches_only_to_the_gated_default(
    line: tuple[Path, StationConfig, Path], tmp_path: Path
) -> None:
    """A 'promote' sent to the socket by hand, naming a release the gate never passed (the blind 2.0.0),
    switches nothing; one naming the default does."""
    from inspect_app.control import SOCKET_NAME, ControlServer, send
    from inspect_app.testing.fakes import ScriptedSource

    _, cfg, models = line
    state = tmp_path / "state"
    run_cfg = cfg.model_copy(update={"state_dir": str(state)})
    st = Station(run_cfg, source=ScriptedSource([gray_image(100)], loop=True))
    st.start()
    control = ControlServer(st, state / SOCKET_NAME)
    control.start()
    live = str((models / "line" / "1.0.0").resolve())
    try:
        assert ReleaseRegistry(models).default_ref() == "line/1.0.0"
        reply = send(state, {"cmd": "promote", "from": live, "to": str(models / "line" / "2.0.0")})
        assert not reply["ok"] and "not the default release" in reply["error"]
        assert st.config.recipes["r"].model == live
        reply = send(state, {"cmd": "promote", "from": live, "to": live})
        assert reply["ok"] and reply["switched"] == ["r"]
    finally:
        control.stop()
        st.stop()


def test_a_candidate_the_recipes_do_not_fit_is_a_clear_error(
    line: tuple[Path, StationConfig, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml, cfg, models = line
    write_brightness_release(models, "other", "1.0.0", 0.5, names=("dent",))
    (toml.parent / "lenient.toml").write_text(
        toml.read_text() + "[recipes.r.classes.scratch]\nmin_conf = 0.6\n"
    )  # a recipe naming a class the candidate does not have
    args = ["models", "promote", "other/1.0.0", "--root", str(models), "--state-dir", str(cfg.state_dir),
            "--config", str(toml.parent / "lenient.toml"), "--dry-run"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "the gate cannot judge other/1.0.0" in err and "scratch" in err


def test_promote_without_config_judges_by_the_running_stations_config(
    line: tuple[Path, StationConfig, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """With no --config, the gate takes the config of the station running on --state-dir (its recipes and
    [promotion]), not the demo's: that station is the one the promotion then switches."""
    from inspect_app.control import SOCKET_NAME, ControlServer
    from inspect_app.testing.fakes import ScriptedSource

    toml, cfg, models = line
    strict = toml.parent / "strict.toml"
    strict.write_text(toml.read_text() + "[promotion]\nmin_parts = 100\n")
    st = Station(load_config(strict), source=ScriptedSource([gray_image(100)], loop=True))
    st.start()
    control = ControlServer(st, Path(cfg.state_dir) / SOCKET_NAME)
    control.start()
    try:
        args = ["models", "promote", "line/1.1.0", "--root", str(models), "--state-dir", str(cfg.state_dir)]
        assert main([*args, "--dry-run"]) == 1  # the demo's config (min_parts 0) would pass it
        assert "at least 100 needed" in capsys.readouterr().out
    finally:
        control.stop()
        st.stop()


def test_shadow_rows_of_another_build_are_no_evidence(line: tuple[Path, StationConfig, Path]) -> None:
    """Shadow rows under the candidate's NAME/VERSION but another model file's sha256 (a rebuilt release)
    do not count as its agreement: the gate replays instead."""
    from inspect_app.promotion import gather_evidence

    _, cfg, models = line
    db = Path(cfg.state_dir) / "results.db"
    candidate, live = models / "line" / "1.1.0", models / "line" / "1.0.0"
    with sqlite3.connect(db) as c:
        ids = [r[0] for r in c.execute("select id from inspections order by id")]
        c.executemany(
            "insert into shadow_results (time, epoch, inspection_id, recipe, model_id, model_sha256,"
            " live_verdict, verdict, classes, detections, t_detect_ms, shadow)"
            " values ('t', 0, ?, 'r', 'line/1.1.0', ?, 'PASS', 'PASS', '[]', '[]', 1.0, 1)",
            [(i, "0" * 64) for i in ids],
        )
    try:
        evidence = gather_evidence(cfg, db, candidate, live)
        assert evidence.agreement_source == "replay" and evidence.agreement_parts == len(LEVELS)
    finally:
        with sqlite3.connect(db) as c:
            c.execute("delete from shadow_results")


def test_promote_with_a_config_and_no_state_dir_judges_that_stations_history(
    line: tuple[Path, StationConfig, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """--config alone: the gate reads the config's state dir, not var/ (where there is no history, so a
    candidate that lets the reviewed defects pass had nothing to be refused on)."""
    toml, _, models = line
    monkeypatch.chdir(tmp_path)
    args = ["models", "promote", "line/2.0.0", "--root", str(models), "--config", str(toml), "--dry-run"]
    assert main(args) == 1
    assert "2 of 2 reviewed defects would PASS" in capsys.readouterr().out
    assert not (tmp_path / "var").exists()


def test_promote_says_which_history_it_judged_and_when_there_is_none(
    line: tuple[Path, StationConfig, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    toml, cfg, models = line
    base = ["models", "promote", "line/1.1.0", "--root", str(models), "--config", str(toml), "--dry-run"]
    main(base)
    assert f"judged on the history in {Path(cfg.state_dir) / 'results.db'}" in capsys.readouterr().out
    main([*base, "--state-dir", str(tmp_path / "empty")])
    assert (
        f"NO HISTORY: no results database at {tmp_path / 'empty' / 'results.db'}" in capsys.readouterr().out
    )
    main([*base, "--json"])
    shown = json.loads(capsys.readouterr().out)
    assert shown["history"] is True and shown["results_db"] == str(Path(cfg.state_dir) / "results.db")
