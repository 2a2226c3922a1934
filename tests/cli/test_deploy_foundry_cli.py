"""``slmw deploy foundry``: its flags resolve to the recipe the job gets (the launcher patched)."""

from __future__ import annotations

import json

import pytest

from slm_workbench.cli import main
from slm_workbench.engine.runs.store import RunStore


def _train_run() -> str:
    run = RunStore().create("train", "stage: train\nmodel: smollm2-135m-instruct\n")
    (run / "artifacts" / "merged").mkdir(parents=True)
    (run / "artifacts" / "merged" / "config.json").write_text("{}")
    return run.name


def test_the_flags_are_the_recipe_and_force_replaces(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    started = []
    run1 = _train_run()

    def start_recipe(recipe, *, title, force=False, **_kw):  # noqa: ANN001, ANN202
        started.append((recipe, title, force))
        return RunStore().create("deploy.foundry", "stage: deploy.foundry\nsource: x\n", title=title)

    monkeypatch.setattr("slm_workbench.cli.jobs.start_recipe", start_recipe)
    code = main.main(["deploy", "foundry", f"{run1}:int4", "--name", "contacts", "-o", "/tmp/pkgs", "--install",
                      "--force", "--no-smoke", "--prompts", "Hi,Bye", "--detach"])
    assert code == 0
    recipe, title, force = started[0]
    assert (recipe.stage, recipe.source, recipe.name, recipe.output, recipe.install, recipe.force, recipe.smoke,
            recipe.prompts) == ("deploy.foundry", f"{run1}:int4", "contacts", "/tmp/pkgs", True, True, False, ["Hi", "Bye"])
    assert title == f"foundry {run1}:int4" and force
    [job] = [info.id for info in RunStore().list() if info.stage == "deploy.foundry"]
    assert capsys.readouterr().out.strip() == job  # --detach prints the run id

    started.clear()
    main.main(["deploy", "foundry", "smollm2-135m-instruct", "--detach"])
    assert started[0][0].force is False and started[0][0].name is None


def test_a_bad_name_is_one_line(capsys) -> None:
    assert main.main(["deploy", "foundry", "x", "--name", "Bad Name!"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "name" in err[0] and "lowercase" in err[0]


def test_json_prints_the_package_and_the_verdict(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from slm_workbench.engine.runs import store as store_module

    run_dir = RunStore().create("deploy.foundry", "stage: deploy.foundry\nsource: x\n")
    (run_dir / "artifacts" / "package.json").write_text(json.dumps({"model_id": "x:1", "folder": "/p", "installed": False}))
    (run_dir / "artifacts" / "smoke.json").write_text(json.dumps({"verdict": "identical", "prompts": []}))
    monkeypatch.setattr("slm_workbench.cli.jobs.start_recipe", lambda recipe, **_kw: run_dir)
    monkeypatch.setattr("slm_workbench.cli.jobs.wait_for", lambda d: store_module.RunStore(d.parent).info(d))
    monkeypatch.setattr(store_module, "effective_state", lambda _d, _s: "done")
    assert main.main(["deploy", "foundry", "smollm2-135m-instruct", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["package"]["model_id"] == "x:1" and out["smoke"]["verdict"] == "identical"


@pytest.mark.parametrize("source", ["no-such-thing", "no-such-thing:int4"])
def test_a_source_that_names_nothing_is_one_line_and_starts_no_job(capsys, slmw_home, source: str) -> None:
    assert main.main(["deploy", "foundry", source]) == 1
    err = capsys.readouterr().err
    assert "slmw: error: no model or run named 'no-such-thing'" in err and err.count("error:") == 1
    assert RunStore().list() == []
