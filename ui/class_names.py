"""Class names as the operator reads them: the recipe's ``display_names`` for the window's language, else
the model's own name. Only the window translates them; the database, the logs, the PLC and the datasets
keep the model's names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from inspect_app.config import RecipeConfig


def shown_names(recipe: RecipeConfig | None, language: str) -> dict[str, str]:
    """class -> the name shown, for the classes the recipe names in ``language``."""
    if recipe is None:
        return {}
    return dict(recipe.display_names.get(language, {}))  # type: ignore[call-overload]


def shown(name: str, names: Mapping[str, str]) -> str:
    return names.get(name, name)


def shown_list(classes: Iterable[str], names: Mapping[str, str]) -> str:
    return ", ".join(shown(c, names) for c in classes)
