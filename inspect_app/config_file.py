"""Writing recipe edits back to the station's TOML file.

An engineer's threshold or ROI change made in the window must survive a restart, and the station file is
also edited by hand: so only the one recipe's table is rewritten (with tomlkit, which keeps comments,
order and layout everywhere else), the result is parsed and validated with the station's own schema before
it replaces the file, and the replacement is atomic (temporary file, fsync, rename), with the previous
version kept as ``<name>.bak``. A file that cannot be written leaves the running station as it is.
"""

from __future__ import annotations

import os
import stat
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions

from inspect_app.config import ConfigError, RecipeConfig, parse_config, resolve_paths


def recipe_table(recipe: RecipeConfig, base: Path, *, defaults: bool = True) -> dict[str, Any]:
    """The recipe as TOML data (``defaults=False``: without values equal to the schema's defaults); a
    model path under ``base`` is written relative to it, as people do."""
    data = recipe.model_dump(mode="json", exclude_none=True, exclude_defaults=not defaults)
    data["model"] = recipe.model
    if recipe.roi is not None:  # its "kind" is a default, and the union needs it
        data["roi"] = recipe.roi.model_dump(mode="json")
    model, root = Path(data["model"]), base.resolve()
    if model.is_absolute() and model.is_relative_to(root):  # a release elsewhere stays absolute
        data["model"] = model.relative_to(root).as_posix()
    return data


def _merge(table: Any, full: dict[str, Any], lean: dict[str, Any]) -> None:
    """Make ``table`` (tomlkit) hold ``full``, touching only what differs, so comments and layout stay;
    a key the file did not have is added only when it differs from the schema's default (``lean``)."""
    for key in [k for k in table if k not in full]:
        del table[key]
    for key, value in full.items():
        current = table.get(key)
        if isinstance(value, dict) and hasattr(current, "items"):
            _merge(current, value, lean.get(key, {}))
        elif key in table:
            if _plain(current) != value:
                table[key] = value
        elif key in lean:
            table[key] = lean[key]


def _plain(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item


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
    lean = recipe_table(recipe, path.parent, defaults=False)
    table = recipes.get(name)
    if table is None:
        recipes[name] = lean
    else:  # in place, so comments inside the recipe's own tables stay too
        _merge(table, recipe_table(recipe, path.parent), lean)
    text = tomlkit.dumps(doc)
    written = resolve_paths(parse_config(tomllib.loads(text), str(path)), path.parent)
    expected = recipe.model_copy(update={"model": str(Path(recipe.model).resolve())})
    if written.recipes.get(name) != expected:
        raise ConfigError(f"{path}: recipes.{name} would not read back as applied; file left as it was")
    _replace(path, text, backup=original)


def _replace(path: Path, text: str, backup: str) -> None:
    bak = path.with_name(path.name + ".bak")
    mode = stat.S_IMODE(path.stat().st_mode)  # the file keeps who may read it
    _write_atomic(bak, backup, mode)
    _write_atomic(path, text, mode)


def _write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, mode if mode is not None else 0o644)  # mkstemp's 0600 would hide the file from others
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
