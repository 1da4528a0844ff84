"""The station's administrative API (reviews, audit, counter reset, recipe edits, model switch) and the
schema v2 tables they write, on a real station with scripted camera and model and a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from inspect_app.config import RecipeConfig, StationConfig, StoreConfig, load_config, parse_config
from inspect_app.rules import RecipeError
from inspect_app.station import Station
from inspect_app.store import ImageArchive, SqliteResultStore, StoreClosed, StoreError
from inspect_app.store.schema import SCHEMA_VERSION, _v1_initial, connect_writer
from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image, wait_until
from inspect_app.types import Severity, StatusEvent


def make_config(tmp_path: Path) -> StationConfig:
    return parse_config({
        "station": {"name": "admin-test"},
        "state_dir": str(tmp_path / "state"),
        "trigger": {"mode": "software", "queue_size": 16},
        "store": {"save_pass_every": 0, "commit_interval_ms": 5},
        "recipes": {
            "strict": {"model": "fake", "min_conf": 0.5},
            "lenient": {"model": "fake", "min_conf": 0.5, "classes": {"short": {"max_count": 5}}},
        },
        "active_recipe": "strict",
    })  # fmt: skip


def query(cfg: StationConfig, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{Path(cfg.state_dir) / 'results.db'}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def station(tmp_path: Path):  # type: ignore[no-untyped-def]
    st = Station(make_config(tmp_path), source=ScriptedSource([part_image(True)], loop=True),
                 detectors={"fake": ScriptedDetector()})
    st.start()
    yield st
    st.stop()


def test_review_rows_are_committed_and_unknown_inspection_is_refused_alone(station: Station) -> None:
    station.trigger("p1")
    assert station.wait_for_results(1, timeout=10)
    iid = station.last_result.inspection_id  # type: ignore[union-attr]
    ok = station.review(iid, "false_reject", "ann", class_name="short", box=(10, 10, 30, 20), note="dust")
    bad = station.review(iid + 1000, "confirmed_defect", "ann")
    missed = station.review(iid, "missed_defect", "ann", class_name="pit", box=(40, 40, 50, 50))
    assert ok.result(timeout=10) > 0 and missed.result(timeout=10) > ok.result()
    with pytest.raises(StoreError, match="no inspection"):
        bad.result(timeout=10)
    station.trigger("p2")  # the refused review did not wedge the writer
    assert station.wait_for_results(2, timeout=10)
    rows = query(station.config, "select * from reviews order by id")
    assert [(r["kind"], r["class_name"], r["who"]) for r in rows] == [
        ("false_reject", "short", "ann"), ("missed_defect", "pit", "ann")]
    assert (rows[0]["x1"], rows[0]["y2"], rows[0]["note"]) == (10.0, 20.0, "dust")
    assert rows[0]["inspection_id"] == iid and rows[0]["time"].endswith("Z")


def test_review_arguments_are_checked_before_anything_is_written(station: Station) -> None:
    with pytest.raises(ValueError, match="kind"):
        station.review(1, "looks_fine", "ann")
    with pytest.raises(ValueError, match="missed_defect"):
        station.review(1, "missed_defect", "ann", class_name="pit")  # no box
    with pytest.raises(ValueError, match="unknown class"):
        station.review(1, "confirmed_defect", "ann", class_name="dent")
    with pytest.raises(ValueError, match="box"):
        station.review(1, "confirmed_defect", "ann", box=(5, 5, 1, 1))
    station.audit("ann", "operator", "noop", "-", None, None).result(timeout=10)
    assert query(station.config, "select count(*) from reviews")[0][0] == 0


def test_reset_counters_zeroes_shift_counts_and_is_audited(station: Station) -> None:
    for i in range(3):
        station.trigger(f"c{i}")
    assert station.wait_for_results(3, timeout=10)
    assert station.counters["fail"] == 3
    station.reset_counters("bob").result(timeout=10)
    c = station.counters
    assert (c["total"], c["fail"], c["yield_pct"]) == (0, 0, 0.0)
    station.trigger("c3")
    assert station.wait_for_results(4, timeout=10)  # waiters still count since start
    assert station.counters["total"] == 1 and station.counters["fail"] == 1
    row = query(station.config, "select * from audit where action = 'counters.reset'")[0]
    assert (row["who"], row["role"], row["target"]) == ("bob", "operator", "counters")
    assert json.loads(row["old"])["fail"] == 3 and json.loads(row["new"])["fail"] == 0


def test_recipe_edit_applies_to_next_part_and_audits_old_and_new(station: Station) -> None:
    station.trigger("before")
    assert station.wait_for_results(1, timeout=10)
    old = station.config.recipes["strict"]
    edited = RecipeConfig.model_validate({**old.model_dump(), "classes": {"short": {"max_count": 1}}})
    station.set_recipe_config("strict", edited, "eve").result(timeout=10)
    station.trigger("after")
    assert station.wait_for_results(2, timeout=10)
    got = {r["part_id"]: r["verdict"] for r in query(station.config, "select * from inspections")}
    assert got == {"before": "FAIL", "after": "PASS"}  # one short is now allowed
    row = query(station.config, "select * from audit where action = 'recipe.edit'")[0]
    assert (row["who"], row["role"], row["target"]) == ("eve", "engineer", "strict")
    assert json.loads(row["old"])["classes"] == {}
    assert json.loads(row["new"])["classes"]["short"]["max_count"] == 1
    # unchanged: nothing recorded
    assert station.set_recipe_config("strict", edited, "eve").result(timeout=10) is None


def test_recipe_edit_with_class_the_model_lacks_is_refused_unchanged(station: Station) -> None:
    bad = RecipeConfig.model_validate({"model": "fake", "classes": {"dent": {"ignore": True}}})
    with pytest.raises(RecipeError, match="dent"):
        station.set_recipe_config("strict", bad, "eve")
    with pytest.raises(RecipeError, match="not loaded"):
        station.set_recipe_config("strict", RecipeConfig(model="models/other/1.0"), "eve")
    assert station.config.recipes["strict"].classes == {}
    station.audit("eve", "engineer", "probe", "-", None, None).result(timeout=10)
    assert query(station.config, "select action from audit")[0]["action"] == "probe"


def test_switch_model_takes_effect_on_next_part_and_is_audited(station: Station) -> None:
    station.trigger("old-model")
    assert station.wait_for_results(1, timeout=10)
    new = ScriptedDetector(rule=lambda img: [], model_id="clean/2")  # finds nothing
    station.switch_model("strict", "clean-dir", "eve", detector=new).result(timeout=10)
    assert station.config.recipes["strict"].model == "clean-dir"
    assert "clean-dir" in station.models()
    station.trigger("new-model")
    assert station.wait_for_results(2, timeout=10)
    rows = query(station.config, "select * from inspections")
    got = {r["part_id"]: (r["verdict"], r["model_id"]) for r in rows}
    assert got == {"old-model": ("FAIL", "fake/1"), "new-model": ("PASS", "clean/2")}
    row = query(station.config, "select * from audit where action = 'model.switch'")[0]
    assert json.loads(row["old"])["model_id"] == "fake/1" and json.loads(row["new"])["model_id"] == "clean/2"
    lacking = ScriptedDetector(names=("scratch",), model_id="tiny/1")
    with pytest.raises(RecipeError):
        station.switch_model("lenient", "tiny-dir", "eve", detector=lacking)  # lenient names "short"
    assert station.config.recipes["lenient"].model == "fake"


def test_admin_writes_after_stop_raise(tmp_path: Path) -> None:
    st = Station(make_config(tmp_path), source=ScriptedSource([part_image(False)], loop=True),
                 detectors={"fake": ScriptedDetector()})
    st.start()
    st.stop()
    with pytest.raises(StoreClosed):
        st.audit("x", "operator", "a", "t", None, None)


def test_v1_database_is_migrated_to_the_latest_keeping_its_rows(tmp_path: Path) -> None:
    import sqlite_utils

    db_path = tmp_path / "r.db"
    conn = connect_writer(db_path)
    db = sqlite_utils.Database(conn)
    db["schema_version"].create({"version": int, "applied_at": str, "description": str}, pk="version")
    _v1_initial(db)
    conn.execute("INSERT INTO schema_version VALUES (1, 't', 'v1')")
    conn.execute("INSERT INTO events (time, epoch, kind, severity, message) VALUES ('t', 0, 'k', 'i', 'old')")
    conn.close()
    cfg = StoreConfig()
    store = SqliteResultStore(db_path, ImageArchive(tmp_path / "images", cfg), cfg, "st")
    store.start()
    store.close()
    ro = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    assert ro.execute("select max(version) from schema_version").fetchone()[0] == SCHEMA_VERSION == 3
    tables = {r[0] for r in ro.execute("select name from sqlite_master")}
    assert {"reviews", "audit", "shadow_results"} <= tables
    assert ro.execute("select message from events").fetchone()[0] == "old"


def _edit_min_conf_in_file_station(tmp_path: Path, toml: str, until: str) -> tuple[Station, list]:
    """A station loaded from ``toml``; raise the strict recipe's min_conf to 0.7 and wait for the event
    whose payload has ``until`` ("saved" or "save_error"). Returns the (stopped) station and its events."""
    f = tmp_path / "station.toml"
    f.write_text(toml)
    cfg = load_config(f)
    st = Station(cfg, source=ScriptedSource([part_image(True)], loop=True),
                 detectors={str(tmp_path / "fake"): ScriptedDetector()})
    events: list[StatusEvent] = []
    st.add_event_listener(events.append)
    st.start()
    try:
        edited = cfg.recipes["strict"].model_copy(update={"min_conf": 0.7})
        st.set_recipe_config("strict", edited, "eve").result(timeout=10)
        assert wait_until(lambda: any(until in e.payload for e in events), timeout=10)
        assert st.config.recipes["strict"].min_conf == 0.7  # applied, saved or not
    finally:
        st.stop()
    return st, events


def test_recipe_edit_is_saved_to_the_station_file_it_came_from(tmp_path: Path) -> None:
    _edit_min_conf_in_file_station(tmp_path, (
        '# line 3\nstate_dir = "state"\nactive_recipe = "strict"\n\n[trigger]\nmode = "software"\n\n'
        '[recipes.strict]\nmodel = "fake"  # the scripted model\nmin_conf = 0.5\n'), "saved")
    f = tmp_path / "station.toml"
    assert load_config(f).recipes["strict"].min_conf == 0.7
    assert "# the scripted model" in f.read_text() and 'model = "fake"' in f.read_text()


def test_recipe_edit_that_cannot_be_saved_stays_applied_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "station.toml.bak").mkdir()  # the save fails as on a read-only folder
    _, events = _edit_min_conf_in_file_station(
        tmp_path, 'state_dir = "state"\nactive_recipe = "strict"\n[recipes.strict]\nmodel = "fake"\n',
        "save_error")
    failed = next(e for e in events if "save_error" in e.payload)
    assert failed.severity == Severity.WARNING and "NOT saved" in failed.message
    assert load_config(tmp_path / "station.toml").recipes["strict"].min_conf == 0.25
