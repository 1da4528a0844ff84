"""``models release --promote`` and ``training.default_model --promote`` go through the station's gate
(the same one as ``inspect-app models promote``): a release that the gate refuses is written but does not
become the default, and both outcomes are audited."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from inspect_app.releases import ReleaseRegistry
from inspect_app.testing.const_models import write_brightness_release
from training.cli import promote_through_gate

GOOD = {"test": {"mAP50": 0.90, "mAP50-95": 0.60}}
WORSE = {"test": {"mAP50": 0.80, "mAP50-95": 0.60}}  # 10 points below the live model: the gate allows 2


@pytest.fixture()
def line(tmp_path: Path) -> tuple[Path, Path, Path]:
    models = tmp_path / "models"
    write_brightness_release(models, "line", "1.0.0", 0.5, metrics=GOOD)
    ReleaseRegistry(models).set_default("line/1.0.0", who="setup")
    toml = tmp_path / "station.toml"
    toml.write_text(
        'state_dir = "state"\nactive_recipe = "r"\n[trigger]\nmode = "software"\n'
        '[detector]\nbackend = "onnxruntime"\nthreads = 1\nprecision = "f32"\n'
        '[recipes.r]\nmodel = "models/line/1.0.0"\nmin_conf = 0.5\n'
    )
    return models, toml, tmp_path / "state"


def _audit(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as c:
        return c.execute("select who, action from audit order by id").fetchall()


def test_a_release_the_gate_refuses_is_not_made_the_default(
    line: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    models, toml, state = line
    write_brightness_release(models, "line", "1.1.0", 0.6, metrics=WORSE)
    assert promote_through_gate(models, "line/1.1.0", state, config=toml, who="tara") == 1
    assert "NOT promoted" in capsys.readouterr().err
    reg = ReleaseRegistry(models)
    assert reg.default_ref() == "line/1.0.0"
    assert (models / "line" / "1.1.0" / "manifest.json").is_file()  # written all the same
    assert _audit(state / "results.db")[-1] == ("tara", "model.promote.refused")


def test_a_release_that_passes_the_gate_becomes_the_default(line: tuple[Path, Path, Path]) -> None:
    models, toml, state = line
    write_brightness_release(models, "line", "1.2.0", 0.6, metrics=GOOD)
    assert promote_through_gate(models, "line/1.2.0", state, config=toml, who="tara") == 0
    reg = ReleaseRegistry(models)
    assert reg.default_ref() == "line/1.2.0" and reg.previous_ref() == "line/1.0.0"
    assert _audit(state / "results.db")[-1] == ("tara", "model.promote")
    assert reg.history()[-1].action == "promote"


def test_a_release_the_gate_cannot_judge_is_not_made_the_default(
    line: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The station's recipe names a class the new release does not know: a clear refusal, exit 2."""
    models, toml, state = line
    toml.write_text(toml.read_text() + "[recipes.r.classes.scratch]\nmax_count = 0\n")
    write_brightness_release(models, "line", "1.3.0", 0.6, names=("dent",), metrics=GOOD)
    assert promote_through_gate(models, "line/1.3.0", state, config=toml) == 2
    assert "line/1.3.0 written, NOT promoted" in capsys.readouterr().err
    assert ReleaseRegistry(models).default_ref() == "line/1.0.0"


def test_with_a_config_and_no_state_dir_the_audit_goes_to_that_station(
    line: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``models release --promote --config`` without --state-dir: that station's results.db, not var/'s."""
    models, toml, state = line
    write_brightness_release(models, "line", "1.1.0", 0.6, metrics=WORSE)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert promote_through_gate(models, "line/1.1.0", None, config=toml, who="tara") == 1
    assert _audit(state / "results.db")[-1] == ("tara", "model.promote.refused")
    assert not (elsewhere / "var").exists()


def test_models_release_takes_its_state_dirs_from_the_config_it_promotes_by(
    line: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """(where the release's caches and evaluations go, the state dir the gate reads: None = the config's)."""
    import argparse

    from inspect_app.cli_parser import UserError
    from training.cli import release_state_dirs

    _, toml, state = line
    ns = argparse.Namespace
    assert release_state_dirs(ns(state_dir=None, promote=True, config=toml)) == (state.resolve(), None)
    other = tmp_path / "other"
    assert release_state_dirs(ns(state_dir=other, promote=True, config=toml)) == (other, other)
    assert release_state_dirs(ns(state_dir=None, promote=False, config=toml)) == (Path("var"), None)
    bad = tmp_path / "bad.toml"
    bad.write_text("[store]\nno_such_key = 1\n")
    with pytest.raises(UserError, match=r"store\.no_such_key"):  # before the release is built
        release_state_dirs(ns(state_dir=other, promote=True, config=bad))


def test_a_config_the_gate_cannot_read_leaves_the_release_written_not_promoted(
    line: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models, _, state = line
    write_brightness_release(models, "line", "1.2.0", 0.6, metrics=GOOD)
    bad = tmp_path / "bad.toml"
    bad.write_text("[store]\nno_such_key = 1\n")
    assert promote_through_gate(models, "line/1.2.0", state, config=bad) == 2
    assert "line/1.2.0 written, NOT promoted" in capsys.readouterr().err
    assert ReleaseRegistry(models).default_ref() == "line/1.0.0"
