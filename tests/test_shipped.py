"""The stylesheets and recipes are found from a checkout (top-level folders) and from an
installed wheel (inside the package)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from slm_workbench import shipped
from slm_workbench.engine.errors import WorkbenchError
from tests.conftest import REPO


def test_a_checkout_finds_the_top_level_folders() -> None:
    assert shipped.styles_dir() == REPO / "styles"
    assert shipped.recipes_dir() == REPO / "recipes"
    assert shipped.shipped_recipe("smoke-lora") == REPO / "recipes" / "smoke-lora.yaml"
    assert shipped.shipped_recipe("smoke-lora.yaml") == REPO / "recipes" / "smoke-lora.yaml"


def test_an_installed_package_finds_its_own_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site-packages" / "slm_workbench"
    (package / "styles").mkdir(parents=True)
    (package / "styles" / "app.tcss").write_text("Screen {}\n")
    (package / "recipes").mkdir()
    (package / "recipes" / "smoke-lora.yaml").write_text("# slmw train smoke-lora\nstage: train\n")
    monkeypatch.setattr(shipped, "_PACKAGE", package)
    assert shipped.styles_dir() == package / "styles"
    assert shipped.shipped_recipes() == {"smoke-lora": package / "recipes" / "smoke-lora.yaml"}


def test_a_missing_folder_says_what_and_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shipped, "_PACKAGE", tmp_path / "slm_workbench")
    with pytest.raises(WorkbenchError, match="styles/ folder is missing"):
        shipped.styles_dir()


def test_an_unknown_recipe_name_lists_the_shipped_ones() -> None:
    with pytest.raises(WorkbenchError) as exc:
        shipped.shipped_recipe("nope")
    assert "smoke-lora" in (exc.value.hint or "")


@pytest.mark.skipif(not (REPO / "setup.py").is_file(), reason="needs the source checkout")
def test_the_wheel_carries_styles_and_recipes(tmp_path: Path) -> None:
    """Builds the wheel from a copy of the sources (no isolation: this environment's setuptools)."""
    import shutil
    import subprocess
    import sys

    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__")
    for name in ("slm_workbench", "styles", "recipes"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
                    str(source)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("slm_workbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"slm_workbench/styles/app.tcss", "slm_workbench/styles/__init__.py", "slm_workbench/recipes/__init__.py"} <= names
    assert {f"slm_workbench/recipes/{p.name}" for p in (REPO / "recipes").glob("*.yaml")} <= names
    assert "slm_workbench/shipped.py" in names and "slm_workbench/engine/compare/heldout.txt" in names
