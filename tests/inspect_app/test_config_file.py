"""Recipe edits written back to the station's TOML file: comments and other sections kept, the file
re-read by the station's own loader gives the edited recipe, and a file that cannot be written is left
as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspect_app.config import ConfigError, PolygonROI, RecipeConfig, RectROI, load_config
from inspect_app.config_file import save_recipe

STATION = """\
# Line 3, AOI after reflow: ask Wang before changing thresholds
state_dir = "var"
active_recipe = "board-a"

[station]
name = "line-3"  # MES name

[recipes.board-a]
model = "models/pcb/1.0.0"  # released 2026-10
min_conf = 0.4

[recipes.board-a.classes.short]
max_count = 0

[recipes.board-a.classes.open]
min_conf = 0.6  # opens are rare: look closer

[recipes.board-b]
model = "models/pcb/1.0.0"
"""


@pytest.fixture
def station_file(tmp_path: Path) -> Path:
    f = tmp_path / "station.toml"
    f.write_text(STATION)
    return f


def test_edit_keeps_comments_and_reads_back_as_applied(station_file: Path) -> None:
    station_file.chmod(0o640)
    cfg = load_config(station_file)
    assert cfg.source_file == station_file.resolve()
    old = cfg.recipes["board-a"]
    new = RecipeConfig.model_validate({
        **old.model_dump(), "min_conf": 0.55, "roi": {"kind": "rect", "xyxy": [10, 20, 300, 400]},
        "classes": {"short": {"max_count": 2}, "pit": {"ignore": True}, "open": {"min_conf": 0.6}},
    })  # fmt: skip
    save_recipe(station_file, "board-a", new)
    text = station_file.read_text()
    for kept in ("# Line 3, AOI after reflow", "# MES name", "# released 2026-10", "[recipes.board-b]",
                 "min_conf = 0.6  # opens are rare: look closer"):
        assert kept in text
    assert 'model = "models/pcb/1.0.0"' in text  # still relative to the file, as written by hand
    assert "description" not in text and "min_area" not in text  # defaults are not spelled out
    again = load_config(station_file)
    assert again.recipes["board-a"] == new
    assert again.recipes["board-b"] == cfg.recipes["board-b"]
    assert (station_file.parent / "station.toml.bak").read_text() == STATION
    assert station_file.stat().st_mode & 0o777 == 0o640  # who may read it is unchanged


def test_new_recipe_and_polygon_roi_round_trip(station_file: Path, tmp_path: Path) -> None:
    other = tmp_path.parent / "elsewhere" / "model"  # outside the station's folder: stays absolute
    recipe = RecipeConfig(model=str(other), roi=PolygonROI(points=[(0, 0), (100, 0), (50, 80)]))
    save_recipe(station_file, "board-c", recipe)
    cfg = load_config(station_file)
    assert cfg.recipes["board-c"] == recipe.model_copy(update={"model": str(other.resolve())})
    assert isinstance(cfg.recipes["board-c"].roi, PolygonROI)
    rect = RecipeConfig(model=str(tmp_path / "models/pcb/1.0.0"), roi=RectROI(xyxy=(1, 2, 3, 4)))
    save_recipe(station_file, "board-c", rect)
    assert isinstance(load_config(station_file).recipes["board-c"].roi, RectROI)


def test_unwritable_or_broken_file_is_left_as_it_was(station_file: Path) -> None:
    recipe = load_config(station_file).recipes["board-a"].model_copy(update={"min_conf": 0.9})
    blocker = station_file.parent / "station.toml.bak"
    blocker.mkdir()  # the backup cannot be written (as a full disk or a read-only folder would refuse)
    with pytest.raises(OSError):
        save_recipe(station_file, "board-a", recipe)
    assert station_file.read_text() == STATION
    blocker.rmdir()
    station_file.write_text(STATION + "\n[broken\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        save_recipe(station_file, "board-a", recipe)
    assert station_file.read_text() == STATION + "\n[broken\n"
    assert not list(station_file.parent.glob(".station.toml.*.tmp"))
