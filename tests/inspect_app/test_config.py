"""The config schema: every error names its key path; the example file is valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from inspect_app.config import ConfigError, FolderSourceConfig, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]


def _minimal(**extra: object) -> dict:
    data: dict = {"recipes": {"pcb-a": {"model": "models/x/1"}}, "active_recipe": "pcb-a"}
    data.update(extra)
    return data


def test_example_config_is_valid() -> None:
    cfg = load_config(REPO / "station.example.toml")
    assert cfg.active_recipe in cfg.recipes
    assert cfg.recipes["pcb-a"].classes["short"].min_conf == 0.3
    # relative paths resolve against the file, not the working directory
    assert cfg.state_dir == (REPO / "var").resolve()
    assert Path(cfg.recipes["pcb-a"].model).is_absolute()


def test_fraction_error_names_key_path() -> None:
    data = _minimal()
    data["recipes"]["pcb-a"]["classes"] = {"short": {"min_conf": 1.5}}
    with pytest.raises(ConfigError) as err:
        parse_config(data, "station.toml")
    assert "recipes.pcb-a.classes.short.min_conf: must be between 0 and 1" in str(err.value)


def test_unknown_key_is_refused_with_its_path() -> None:
    data = _minimal(source={"kind": "folder", "path": "x", "patern": "*.png"})
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert "source.patern: unknown key" in str(err.value)


def test_every_problem_is_listed_at_once() -> None:
    data = _minimal(trigger={"mode": "sometimes", "rate_hz": -1}, detector={"threads": 0})
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    text = str(err.value)
    assert "3 problem(s)" in text
    assert "trigger.mode" in text and "trigger.rate_hz: must be > 0" in text
    assert "detector.threads: must be >= 1" in text


def test_active_recipe_must_exist() -> None:
    with pytest.raises(ConfigError, match="active_recipe: 'nope' is not one of the recipes"):
        parse_config(_minimal(active_recipe="nope"))


def test_roi_validation() -> None:
    data = _minimal()
    data["recipes"]["pcb-a"]["roi"] = {"kind": "rect", "xyxy": [10, 10, 5, 50]}
    with pytest.raises(ConfigError, match=r"recipes\.pcb-a\.roi\.xyxy: must be \[x1, y1, x2, y2\]"):
        parse_config(data)
    data["recipes"]["pcb-a"]["roi"] = {"kind": "polygon", "points": [[0, 0], [1, 1]]}
    with pytest.raises(ConfigError, match=r"recipes\.pcb-a\.roi\.points"):
        parse_config(data)


def test_source_kinds_are_a_discriminated_union(tmp_path: Path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text(
        'active_recipe = "a"\n[source]\nkind = "folder"\npath = "imgs"\n[recipes.a]\nmodel = "m"\n'
    )
    cfg = load_config(toml)
    assert isinstance(cfg.source, FolderSourceConfig)
    assert cfg.source.path == (tmp_path / "imgs").resolve()


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[station\nname = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.toml")


def test_check_config_command(tmp_path: Path) -> None:
    good = subprocess.run(
        [sys.executable, "-m", "inspect_app.cli", "check-config", str(REPO / "station.example.toml")],
        capture_output=True, text=True, check=False,
    )
    assert good.returncode == 0, good.stderr
    assert "OK" in good.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('active_recipe = "a"\n[recipes.a]\nmodel = "m"\nmin_conf = 2\n')
    res = subprocess.run(
        [sys.executable, "-m", "inspect_app.cli", "check-config", str(bad)],
        capture_output=True, text=True, check=False,
    )
    assert res.returncode == 2
    assert "recipes.a.min_conf: must be between 0 and 1" in res.stderr


def test_display_names_are_per_language_and_checked(tmp_path: Path) -> None:
    from inspect_app.config_file import save_recipe

    names = {"zh_CN": {"scratch": "划痕", "short": "短路"}}
    cfg = parse_config(_minimal(recipes={"pcb-a": {"model": "models/x/1", "display_names": names}}))
    assert cfg.recipes["pcb-a"].display_names == names
    bad = [
        ({"fr": {"scratch": "rayure"}}, "recipes.pcb-a.display_names.fr"),  # a language the window lacks
        ({"zh_CN": {"scratch": " "}}, "zh_CN.scratch: a display name cannot be empty"),
        ({"zh_CN": {"scratch": "缺陷", "pit": "缺陷"}}, "缺陷 is the display name of two classes"),
    ]
    for wrong, message in bad:
        with pytest.raises(ConfigError, match=message):
            parse_config(_minimal(recipes={"pcb-a": {"model": "models/x/1", "display_names": wrong}}))
    # an edit saved from the window keeps them in the station's TOML file
    station, model = tmp_path / "station.toml", tmp_path / "models" / "x" / "1"
    station.write_text(f'active_recipe = "pcb-a"\n[recipes.pcb-a]\nmodel = "{model}"\n', encoding="utf-8")
    save_recipe(station, "pcb-a", cfg.recipes["pcb-a"].model_copy(update={"model": str(model)}))
    assert load_config(station).recipes["pcb-a"].display_names == names
