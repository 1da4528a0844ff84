"""Writing recipe edits back to the station's TOML file.

An engineer's threshold or ROI change made in the window must survive a restart, and the station file is
also edited by hand: so only the one recipe's table is rewritten (with tomlkit, which keeps comments,
order and layout everywhere else), the result is parsed and validated with the station's own schema before
it replaces the file, and the replacement is atomic (temporary file, fsync, rename), with the previous
version kept as ``<name>.bak``. A file that cannot be written leaves the running station as it is.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions

from inspect_app.config import ConfigError, RecipeConfig, parse_config, resolve_paths


def recipe_table(recipe: RecipeConfig, base: Path) -> dict[str, Any]:
    """The recipe as TOML data; a model path under ``base`` is written relative to it, as people do."""
    data = recipe.model_dump(mode="json", exclude_none=True)
    model, root = Path(data["model"]), base.resolve()
    if model.is_absolute() and model.is_relative_to(root):  # a release elsewhere stays absolute
        data["model"] = model.relative_to(root).as_posix()
    return data


def save_recipe(path: Path, name: str, recipe: RecipeConfig) -> None:
    """Replace (or add) ``[recipes.<name>]`` in the station file ``path``. Raises OSError or ConfigError
    (the file changed into something the schema refuses) and then leaves the file untouched."""
    path = Path(path)
    original = path.read_text("utf-8")
    try:
        doc = tomlkit.parse(original)
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(f"{path}: not valid TOML any more ({exc}); file left as it was") from None
    if "recipes" not in doc:
        doc["recipes"] = tomlkit.table(is_super_table=True)
    recipes = doc["recipes"]
    new = recipe_table(recipe, path.parent)
    table = recipes.get(name)
    if table is None:
        recipes[name] = new
    else:  # update in place, so comments inside the recipe's own table stay
        for key in [k for k in table if k not in new]:
            del table[key]
        for key, value in new.items():
            if table.get(key) != value:
                table[key] = value
    text = tomlkit.dumps(doc)
    written = resolve_paths(parse_config(tomllib.loads(text), str(path)), path.parent)
    expected = recipe.model_copy(update={"model": str(Path(recipe.model).resolve())})
    if written.recipes.get(name) != expected:
        raise ConfigError(f"{path}: recipes.{name} would not read back as applied; file left as it was")
    _replace(path, text, backup=original)


def _replace(path: Path, text: str, backup: str) -> None:
    bak = path.with_name(path.name + ".bak")
    _write_atomic(bak, backup)
    _write_atomic(path, text)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
