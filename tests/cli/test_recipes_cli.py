"""``slmw recipes list | show`` and a shipped recipe's name where a recipe file is expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_workbench.cli.main import main
from tests.conftest import REPO


def test_recipes_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recipes", "list"]) == 0
    out = capsys.readouterr().out
    assert "smoke-lora" in out and "slmw train smoke-lora" in out and "export-smollm2" in out
    assert main(["recipes", "show", "smoke-lora"]) == 0
    assert capsys.readouterr().out == (REPO / "recipes" / "smoke-lora.yaml").read_text(encoding="utf-8")
    assert main(["recipes", "show", "nope"]) == 1
    assert "no shipped recipe named 'nope'" in capsys.readouterr().err


def test_train_takes_a_shipped_recipe_by_name(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no recipes/ here: the name is found among the shipped ones
    code = main(["train", "smoke-lora", "--set", "no_such_field=1", "--estimate"])
    assert code == 1
    assert "smoke-lora.yaml: no_such_field" in capsys.readouterr().err
