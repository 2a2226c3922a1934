"""Files shipped with the workbench that live outside the package in the repository.

The app's stylesheets (``styles/``) and the recipes (``recipes/``) are top-level folders of
the repository. A wheel carries them inside the package (``pyproject.toml`` maps them onto
``slm_workbench.styles`` and ``slm_workbench.recipes``), so an installed copy finds them beside
this module; a source checkout or an editable install finds them one folder up. Found by path,
not by import: nothing here loads a module, so the TUI's startup pays nothing for it.
"""

from __future__ import annotations

from pathlib import Path

from .engine.errors import WorkbenchError

_PACKAGE = Path(__file__).resolve().parent


def _folder(name: str, marker: str) -> Path:
    """``name`` inside the installed package, else the checkout's top-level folder."""
    for folder in (_PACKAGE / name, _PACKAGE.parent / name):
        if (folder / marker).is_file():
            return folder
    raise WorkbenchError(f"the workbench's {name}/ folder is missing (looked in {_PACKAGE} and {_PACKAGE.parent})",
                         hint="reinstall the workbench: pip install --force-reinstall slm-workbench")


def styles_dir() -> Path:
    return _folder("styles", "app.tcss")


def recipes_dir() -> Path:
    return _folder("recipes", "smoke-lora.yaml")


def shipped_recipes() -> dict[str, Path]:
    """Every shipped recipe by name (the file name without ``.yaml``)."""
    return {path.stem: path for path in sorted(recipes_dir().glob("*.yaml"))}


def shipped_recipe(name: str) -> Path:
    """The shipped recipe called ``name`` (``smoke-lora`` or ``smoke-lora.yaml``)."""
    recipes = shipped_recipes()
    stem = name.removesuffix(".yaml")
    if stem not in recipes:
        raise WorkbenchError(f"no shipped recipe named {name!r}", hint=f"shipped recipes: {', '.join(recipes)} (slmw recipes list)")
    return recipes[stem]
