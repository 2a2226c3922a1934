"""Flags derived from the recipe classes: every field has one, its default is the recipe's, the
types parse, errors name the field; and one convention for every job command (follow by
default, ``--detach``, ``--force``). The launcher is patched: no job starts here."""

from __future__ import annotations

import argparse
import json
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from slm_workbench.cli import jobs
from slm_workbench.cli.main import build_parser, main
from slm_workbench.cli.recipe_flags import RecipeFlags, build_recipe
from slm_workbench.config.export import CompareRecipe, ExportRecipe
from slm_workbench.config.generate import GenerateRecipe
from slm_workbench.config.recipes import PrepareDataRecipe, PrepareModelRecipe, SystemCheckRecipe
from slm_workbench.config.train import TrainRecipe
from slm_workbench.engine.runs.store import RunInfo

# command -> (its recipe class, the least it needs on the command line, the required fields that gives)
JOB_COMMANDS = {
    ("train",): (TrainRecipe, ["--data", "slmw:demo"], {"data": "slmw:demo"}),
    ("export",): (ExportRecipe, ["m"], {"model": "m"}),
    ("compare",): (CompareRecipe, ["m"], {"model": "m"}),
    ("data", "prepare"): (PrepareDataRecipe, ["in.jsonl", "-o", "out"], {"source": "in.jsonl", "output": "out"}),
    ("data", "generate"): (GenerateRecipe, ["--teacher", "t", "--prompts", "p.txt", "-o", "out"],
                           {"teacher": "t", "prompts": "p.txt", "output": "out"}),
    ("models", "prepare"): (PrepareModelRecipe, ["m"], {"model": "m"}),
    ("system", "check"): (SystemCheckRecipe, [], {}),
}


def subparser(words: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in words:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[word]
    return parser


def field_paths(cls: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, info in cls.model_fields.items():
        annotation = info.annotation
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # an optional section: X | None
            sections = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = sections[0] if sections else annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += field_paths(annotation, f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


@pytest.mark.parametrize("words", list(JOB_COMMANDS), ids=" ".join)
def test_every_field_of_the_recipe_has_a_flag_or_a_stated_exclusion(words):
    cls = JOB_COMMANDS[words][0]
    flags: RecipeFlags = subparser(words).get_default("recipe_flags")
    assert flags.cls is cls
    covered = {f.path for f in flags.flags}
    assert set(flags.excluded) == {"stage"} and all(flags.excluded.values())
    assert sorted(covered | set(flags.excluded)) == sorted(field_paths(cls))
    options = {a.dest: a for a in subparser(words)._actions}
    for flag in flags.flags:
        action = options[flag.dest]
        assert action.help, f"{flag.option}: no help"
        if action.option_strings:
            assert action.default is None, f"{flag.option}: default {action.default!r} restates the recipe's"


@pytest.mark.parametrize("words", list(JOB_COMMANDS), ids=" ".join)
def test_flags_not_given_leave_every_field_at_the_recipes_default(words):
    cls, argv, required = JOB_COMMANDS[words]
    args = build_parser().parse_args([*words, *argv])
    assert build_recipe(args, where="test") == cls(**required)


def test_a_flags_help_is_the_fields_docstring_with_its_default():
    help_text = subparser(("compare",)).format_help()
    assert "Greedy tokens decoded from the prompt (agreement and speed). (default: 64)" in " ".join(help_text.split())
    assert "--reference, --no-reference" in help_text


def test_types_choices_booleans_lists_mappings_and_sections_parse():
    parse = build_parser().parse_args
    args = parse(["train", "--data", "d", "--packing", "--no-merge", "--lora-r", "8",
                  "--lora-target-modules", "q_proj,v_proj", "--learning-rate", "1e-4", "--method", "full"])
    recipe = build_recipe(args, where="t")
    assert (recipe.packing, recipe.merge, recipe.lora.r, recipe.lora.target_modules) == (True, False, 8, ["q_proj", "v_proj"])
    assert (recipe.learning_rate, recipe.method, recipe.lora.alpha) == (1e-4, "full", 32)
    args = parse(["data", "prepare", "x.jsonl", "-o", "o", "--map", "prompt=q", "--columns", "completion=a",
                  "--role", "human=user"])
    recipe = build_recipe(args, where="t")
    assert recipe.columns == {"prompt": "q", "completion": "a"} and recipe.roles == {"human": "user"}
    recipe = build_recipe(parse(["export", "m", "--variants", "fast", "--no-symmetric", "--ep", "cpu"]), where="t")
    assert (recipe.variants, recipe.symmetric) == (["int8", "int4"], False)
    with pytest.raises(SystemExit):
        parse(["train", "--data", "d", "--method", "half"])  # a Literal's choices are argparse's


def test_a_bad_value_is_one_line_naming_the_field_and_starts_nothing(capsys, monkeypatch):
    started = []
    monkeypatch.setattr(jobs, "start_recipe", lambda *a, **k: started.append(a))
    code = main(["train", "--data", "slmw:demo", "--batch-size", "0"])
    err = capsys.readouterr().err
    assert code == 1 and started == []
    assert err.splitlines()[0] == "slmw: error: slmw train: batch_size: Input should be greater than or equal to 1"


def test_train_flags_override_the_recipe_file_and_set(tmp_path, monkeypatch):
    path = tmp_path / "r.yaml"
    path.write_text("stage: train\ndata: slmw:demo\nmax_steps: 5\nbatch_size: 2\nlora:\n  r: 4\n")
    args = build_parser().parse_args(["train", str(path), "--set", "max_steps=7", "--set", "lora.alpha=9",
                                      "--batch-size", "3", "--lora-r", "6"])
    from slm_workbench.config.loading import read_recipe_data

    recipe = build_recipe(args, where=str(path), base=read_recipe_data(path, args.overrides))
    assert (recipe.max_steps, recipe.batch_size, recipe.lora.r, recipe.lora.alpha) == (7, 3, 6, 9)


# -- one convention for every job command ----------------------------------------------------------
@pytest.fixture
def launcher(monkeypatch, tmp_path):
    """start_recipe and follow patched: record what was started and whether it was followed."""
    calls: dict[str, list] = {"started": [], "followed": []}
    run = tmp_path / "runs" / "20260101-000000-fake-0001"
    run.mkdir(parents=True)

    def fake_start(recipe, *, title="", force=False):
        calls["started"].append((recipe, force))
        return run

    def fake_follow(run_dir):
        calls["followed"].append(run_dir)
        return RunInfo(id=run_dir.name, dir=run_dir, status=None, state="done")

    monkeypatch.setattr(jobs, "start_recipe", fake_start)
    monkeypatch.setattr(jobs, "follow", fake_follow)
    monkeypatch.setattr(jobs, "RunStore", lambda root: type("S", (), {"info": lambda self, d: type("I", (), {"state": "queued"})()})())
    return calls, run


JOB_ARGV = {
    "train": ["train", "--data", "slmw:demo"],
    "system check": ["system", "check"],
    "models prepare": ["models", "prepare", "smollm2-135m-instruct"],
    "run": None,  # filled with a recipe file below
}


def job_argv(name: str, tmp_path: Path) -> list[str]:
    if name == "run":
        path = tmp_path / "check.yaml"
        path.write_text("stage: system.check\nseconds: 1\n")
        return ["run", str(path)]
    return JOB_ARGV[name]


@pytest.mark.parametrize("name", list(JOB_ARGV))
def test_a_job_command_follows_its_job_by_default(capsys, launcher, tmp_path, slmw_home, name):
    calls, run = launcher
    assert main(job_argv(name, tmp_path)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"run {run.name} started (Ctrl-C detaches; the job goes on)"
    assert out[-1] == f"run {run.name}: done"
    assert calls["followed"] == [run] and [force for _, force in calls["started"]] == [False]


@pytest.mark.parametrize("name", list(JOB_ARGV))
def test_detach_returns_the_run_id_and_how_to_follow_it(capsys, launcher, tmp_path, slmw_home, name):
    calls, run = launcher
    assert main([*job_argv(name, tmp_path), "--detach"]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{run.name}\n"
    assert captured.err == f"follow it: slmw runs logs {run.name} -f\n"
    assert calls["followed"] == []
    assert main([*job_argv(name, tmp_path), "--detach", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"id": run.name, "dir": str(run), "state": "queued"}


@pytest.mark.parametrize("name", list(JOB_ARGV))
def test_force_reaches_start_recipe(capsys, launcher, tmp_path, slmw_home, name):
    calls, _ = launcher
    assert main([*job_argv(name, tmp_path), "--force", "--detach"]) == 0
    assert [force for _, force in calls["started"]] == [True]


def test_models_prepare_reconvert_is_the_recipes_force(capsys, launcher, slmw_home):
    calls, _ = launcher
    main(["models", "prepare", "smollm2-135m-instruct", "--reconvert", "--detach"])
    main(["models", "prepare", "smollm2-135m-instruct", "--force", "--detach"])
    (first, first_force), (second, second_force) = calls["started"]
    assert (first.force, first_force) == (True, False)  # convert again; no preflight override
    assert (second.force, second_force) == (False, True)  # the preflight override only


def test_data_prepare_detach_runs_it_as_a_job(capsys, launcher, tmp_path, slmw_home):
    calls, run = launcher
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "hello"}\n')
    assert main(["data", "prepare", str(data), "-o", str(tmp_path / "out"), "--detach"]) == 0
    [(recipe, _)] = calls["started"]
    assert recipe.source == str(data) and recipe.output == str(tmp_path / "out")


def test_an_optional_section_takes_flags_and_stays_absent_without_them():
    args = build_parser().parse_args(["train", "--data", "slmw:demo", "--distill-teacher", "big", "--distill-lmbda", "0.5"])
    recipe = build_recipe(args, where="test")
    assert recipe.distill is not None and recipe.distill.teacher == "big" and recipe.distill.lmbda == 0.5
    assert recipe.distill.method == "gkd"
    assert build_recipe(build_parser().parse_args(["train", "--data", "slmw:demo"]), where="test").distill is None
