"""`slmw sweep`: the recipe it resolves (a training or a sweep recipe, flags over the file), one clear
line for bad parameters before any job starts, and `--join` reading the sweep it joins. The
launcher is patched: no job starts here (tests/engine/sweep runs real sweeps)."""

from __future__ import annotations

import pytest

from slm_workbench.cli.main import main
from slm_workbench.config.loading import dump_recipe, read_recipe_data
from slm_workbench.config.sweep import SweepRecipe
from slm_workbench.engine.runs.store import RunStore


@pytest.fixture
def started(monkeypatch):
    jobs = []
    monkeypatch.setattr("slm_workbench.cli.sweep_cmd.run_recipe_job",
                        lambda recipe, *, title, args: jobs.append((recipe, title)) or 0)
    return jobs


def test_a_training_recipe_with_params_is_the_sweep(started) -> None:
    assert main(["sweep", "smoke-lora", "--param", "learning_rate=loguniform:1e-4:1e-2", "--param",
                 "lora.r=choice:8,16,32", "--trials", "12", "--parallel", "2", "--detach"]) == 0
    (recipe, title), = started
    assert recipe.train == {**read_recipe_data("smoke-lora"), "stage": "train"}  # kept inline
    assert recipe.params == {"learning_rate": "loguniform:1e-4:1e-2", "lora.r": "choice:8,16,32"}
    assert (recipe.trials, recipe.parallel, recipe.metric, recipe.goal, recipe.storage) == (12, 2, "eval_loss", "minimize", None)
    assert title == "sweep smoke-lora"


def test_the_shipped_sweep_recipe_with_flags_over_it(started) -> None:
    assert main(["sweep", "sweep-smoke-lora", "--trials", "3", "--param", "lora.alpha=choice:16,64", "--metric", "task"]) == 0
    (recipe, _), = started
    assert recipe.trials == 3 and recipe.goal == "maximize" and recipe.train["max_steps"] == 24
    assert set(recipe.params) == {"learning_rate", "lora.r", "lora.alpha"}


@pytest.mark.parametrize(("param", "line"), [
    ("lora.rank=choice:8,16", "param lora.rank=choice:8,16: names no field of the training recipe (lora has: r, alpha,"),
    ("learning_rte=uniform:0.1:0.2", "param learning_rte=uniform:0.1:0.2: names no field of the training recipe"),
    ("lora.r=choice:", "param lora.r=choice:: empty choice"),
    ("learning_rate=loguniform:1e-2:1e-4", "param learning_rate=loguniform:1e-2:1e-4: empty range"),
    ("max_steps=int:8:8", "param max_steps=int:8:8: empty range"),
    ("lora.r=choice:0,8", "param lora.r=choice:0,8: 0 is not allowed"),
    ("learning_rate=normal:0:1", "param learning_rate=normal:0:1: expected loguniform:LOW:HIGH"),
])
def test_a_bad_param_is_one_clear_line_and_no_job(started, capsys, param: str, line: str) -> None:
    assert main(["sweep", "smoke-lora", "--param", param]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"slmw: error: {line}"), err
    assert len(err) == 1 and started == [] and RunStore().list() == []


def test_nothing_to_search_says_how(started, capsys) -> None:
    assert main(["sweep", "smoke-lora"]) == 1
    assert "give --param FIELD=KIND:RANGE" in capsys.readouterr().err and started == []


def test_join_reads_the_sweep_run_it_joins(started, slmw_home) -> None:
    recipe = SweepRecipe(train="smoke-lora", params={"learning_rate": "uniform:0.001:0.01"}, trials=6)
    run_dir = RunStore().create("sweep", dump_recipe(recipe), title="a sweep")
    assert main(["sweep", "--join", run_dir.name[-4:], "--parallel", "2", "--detach"]) == 0
    (joined, title), = started
    assert joined.join == run_dir.name and joined.storage == str(run_dir / "optuna.journal")
    assert (joined.params, joined.trials, joined.parallel, joined.train) == (recipe.params, 6, 2, recipe.train)
    assert title == f"sweep {run_dir.name[-4:]} worker"


def test_join_elsewhere_needs_the_storage(started, capsys) -> None:
    assert main(["sweep", "--join", "20250101-000000-sweep-abcd"]) == 1
    err = capsys.readouterr().err
    assert "no sweep run '20250101-000000-sweep-abcd' here" in err and "--storage URL" in err


def test_join_from_a_database_reads_the_recipe_the_study_keeps(started, tmp_path) -> None:
    import optuna

    recipe = SweepRecipe(train="smoke-lora", params={"lora.r": "choice:8,16"}, trials=5)
    url = f"sqlite:///{tmp_path / 'sweeps.db'}"
    study = optuna.create_study(study_name="20250101-000000-sweep-abcd", storage=url)
    study.set_user_attr("recipe", recipe.model_dump(mode="json", exclude={"join"}))
    assert main(["sweep", "--join", "20250101-000000-sweep-abcd", "--storage", url, "--detach"]) == 0
    (joined, _), = started
    assert (joined.join, joined.storage, joined.params, joined.trials) == (study.study_name, url, recipe.params, 5)
