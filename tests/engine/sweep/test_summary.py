"""Reading a sweep's summary files: ranking, the best trial, damaged files read as empty."""

from __future__ import annotations

from slm_workbench.engine.sweep.summary import best_trial, ranked, read_report, read_trials

ROWS = [
    {"number": 0, "state": "complete", "value": 1.5},
    {"number": 1, "state": "pruned", "value": 1.2},  # stood lower when stopped: still after the finished ones
    {"number": 2, "state": "complete", "value": 1.1},
    {"number": 3, "state": "running", "value": None},
    {"number": 4, "state": "failed", "value": None},
]


def test_complete_trials_rank_first_then_pruned_then_the_rest() -> None:
    assert [r["number"] for r in ranked(ROWS, "minimize")] == [2, 0, 1, 3, 4]
    assert [r["number"] for r in ranked(ROWS, "maximize")] == [0, 2, 1, 3, 4]


def test_the_best_is_a_complete_trial() -> None:
    assert best_trial(ROWS, "minimize")["number"] == 2
    assert best_trial([r for r in ROWS if r["state"] != "complete"], "minimize") is None


def test_missing_or_damaged_files_read_as_empty(tmp_path) -> None:
    assert read_trials(tmp_path) == [] and read_report(tmp_path) == {}
    (tmp_path / "trials.jsonl").write_text('{"number": 0}\nnot json\n[1]\n')
    (tmp_path / "sweep_report.json").write_text("{broken")
    assert read_trials(tmp_path) == [{"number": 0}] and read_report(tmp_path) == {}


# -- importances: held back below the minimum, warnings surfaced ----------------------------------

def _study(n: int, objective):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=n)
    return study


def _lr_matters(trial) -> float:
    import math

    lr = trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True)
    rank = trial.suggest_categorical("lora.r", [8, 16, 32])
    return (math.log10(lr) + 3) ** 2 + 0.001 * rank


def _summary(study, tmp_path):
    from types import SimpleNamespace

    from slm_workbench.engine.sweep.report import write_summary

    recipe = SimpleNamespace(metric="eval_loss", goal="minimize", trials=12, params={"learning_rate": "x"}, train={})
    return write_summary(study, recipe, tmp_path, location="mem", dashboard="-")


def test_no_importances_below_the_minimum_of_complete_trials(tmp_path) -> None:
    from slm_workbench.engine.sweep.summary import MIN_IMPORTANCE_TRIALS, importance_view

    few = _summary(_study(MIN_IMPORTANCE_TRIALS - 1, _lr_matters), tmp_path)
    assert few["importances"] == {} and few["importance_min_trials"] == MIN_IMPORTANCE_TRIALS
    view = importance_view(read_report(tmp_path), read_trials(tmp_path))
    assert not view.enough and (view.complete, view.needed) == (MIN_IMPORTANCE_TRIALS - 1, MIN_IMPORTANCE_TRIALS)

    enough = _summary(_study(MIN_IMPORTANCE_TRIALS, _lr_matters), tmp_path)
    shares = enough["importances"]
    assert list(shares) == ["learning_rate", "lora.r"] and abs(sum(shares.values()) - 1) < 1e-3
    view = importance_view(read_report(tmp_path), read_trials(tmp_path))
    assert view.enough and list(view.shares) == ["learning_rate", "lora.r"]


def test_a_report_with_bars_on_too_few_trials_shows_none() -> None:
    from slm_workbench.engine.sweep.summary import importance_view

    rows = [{"number": i, "state": "complete"} for i in range(3)] + [{"number": 3, "state": "pruned"}]
    view = importance_view({"importances": {"learning_rate": 0.9, "lora.r": 0.1}}, rows)  # an older job's report
    assert view.shares == {} and (view.complete, view.needed, view.enough) == (3, 8, False)


def test_all_zero_importances_are_a_note_not_equal_bars(tmp_path) -> None:
    report = _summary(_study(9, lambda t: float(t.suggest_categorical("lora.r", [8]))), tmp_path)
    assert report["importances"] == {}
    assert any("every importance is 0 on 9 complete trials" in note for note in report["importance_notes"])


def test_ped_anova_warnings_reach_the_report(tmp_path) -> None:
    def sometimes_b(trial) -> float:  # "b" exists in one trial only: PED-ANOVA warns its regime is too small
        x = trial.suggest_float("x", 0, 1)
        return x + (trial.suggest_float("b", 0, 1) if trial.number == 0 else 0.0)

    report = _summary(_study(9, sometimes_b), tmp_path)
    assert any("regimes for parameter `b`" in note for note in report["importance_notes"])
    assert not any("experimental" in note for note in report["importance_notes"])
