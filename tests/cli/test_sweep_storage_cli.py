"""`slmw sweep` refuses, in one line and before any job or trial, a storage that cannot be opened,
a `--join` to a study that is not there, and a recipe or search space that is not the joined
study's. The process spawn is patched: nothing here may get as far as starting a job."""

from __future__ import annotations

import sqlite3

import pytest

from slm_workbench.cli.main import main
from slm_workbench.config.sweep import SweepRecipe
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.runs.store import RunStore

NAME = "20250101-000000-sweep-abcd"
SEARCH = ["smoke-lora", "--param", "learning_rate=loguniform:1e-4:1e-2"]


@pytest.fixture
def launched(monkeypatch):
    spawned = []
    monkeypatch.setattr("slm_workbench.engine.runs.launcher.launch", spawned.append)
    return spawned


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 or (len(err) == 2 and err[1].startswith("slmw: hint: ")), err
    return err[0]


def kept_study(url: str, **fields) -> SweepRecipe:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    recipe = SweepRecipe(**({"train": "smoke-lora", "params": {"learning_rate": "loguniform:1e-4:1e-2"}, "trials": 4} | fields))
    study = optuna.create_study(study_name=NAME, storage=url)
    study.set_user_attr("recipe", recipe.model_dump(mode="json", exclude={"join"}))
    return recipe


@pytest.mark.parametrize("storage, why", [
    ("redis://127.0.0.1:6379/0", "unknown scheme 'redis'"),
    ("sqlite:///{tmp}/no/such/folder/sweeps.db", "OperationalError"),  # the database cannot be reached
    ("postgresql://slmw@127.0.0.1:9/sweeps", ""),  # nothing listens on port 9 (or no driver): either way, one line
    ("sqlite:///file:{tmp}/read-only.db?mode=ro&uri=true", "readonly database"),
    ("{tmp}/a-file/optuna.journal", ""),  # a journal that cannot be written
])
def test_a_storage_that_cannot_be_opened_is_one_line_naming_it(launched, capsys, tmp_path, storage, why) -> None:
    sqlite3.connect(tmp_path / "read-only.db").close()  # exists, empty: opening it read-only cannot create the tables
    (tmp_path / "a-file").write_text("not a folder")
    url = storage.format(tmp=tmp_path)
    assert main(["sweep", *SEARCH, "--storage", url, "--detach"]) == 1
    line = one_error_line(capsys)
    assert line.startswith(f"slmw: error: cannot open the sweep storage {url}: ") and why in line, line
    assert launched == [] and RunStore().list() == []


def test_join_to_a_study_that_is_not_there_names_it(launched, capsys, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'sweeps.db'}"
    kept_study(url)
    assert main(["sweep", "--join", "20250101-000000-sweep-ffff", "--storage", url]) == 1
    assert one_error_line(capsys) == f"slmw: error: no sweep '20250101-000000-sweep-ffff' in {url}"
    assert launched == [] and RunStore().list() == []


def test_join_with_another_recipe_names_the_difference(launched, capsys, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'sweeps.db'}"
    from slm_workbench.config.loading import read_recipe_data

    kept_study(url, train=read_recipe_data("smoke-lora") | {"max_steps": 7})
    assert main(["sweep", *SEARCH, "--join", NAME, "--storage", url]) == 1
    line = one_error_line(capsys)
    assert line.startswith(f"slmw: error: slmw sweep --join {NAME}: smoke-lora is not the recipe of sweep {NAME}: "
                           "train.max_steps is 7 there, 24 here"), line
    assert launched == [] and RunStore().list() == []


def test_a_second_search_space_on_one_study_is_refused(launched, capsys, tmp_path) -> None:
    from slm_workbench.engine.runs.launcher import start_recipe

    url = f"sqlite:///{tmp_path / 'sweeps.db'}"
    kept = kept_study(url)
    assert main(["sweep", "--join", NAME, "--storage", url, "--param", "lora.r=choice:8,16"]) == 1
    line = one_error_line(capsys)
    assert line == (f"slmw: error: sweep {NAME} in {url} was made by another recipe: "
                    "params.lora.r is unset there, 'choice:8,16' here"), line
    other = kept.model_copy(update={"params": {"learning_rate": "uniform:0.1:0.2"}, "join": NAME, "storage": url})
    with pytest.raises(WorkbenchError, match=f"sweep {NAME} in .* was made by another recipe: params.learning_rate is "
                                             "'loguniform:1e-4:1e-2' there, 'uniform:0.1:0.2' here"):
        start_recipe(other, title="a second sweep on the same study")  # the engine's own launch check
    assert launched == [] and RunStore().list() == []
