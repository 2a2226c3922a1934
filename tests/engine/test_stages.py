"""The stage registry, the recipe union, the CLI and the panes agree."""

from __future__ import annotations

import argparse
import inspect
import typing
from typing import Literal

import pytest
from pydantic import Field

from slm_workbench.config.base import Section

from slm_workbench.engine import stages
from slm_workbench.engine.stages import STAGES


def test_names_are_unique_and_each_recipe_class_names_its_stage() -> None:
    assert len({s.name for s in STAGES}) == len(STAGES)
    for spec in STAGES:
        field = spec.recipe_class().model_fields["stage"]
        assert typing.get_args(field.annotation) == (spec.name,) and field.default == spec.name, spec.name


def test_the_recipe_union_is_the_registry() -> None:
    from slm_workbench.config.loading import stage_names, validate_recipe
    from slm_workbench.config.recipes import RECIPE_CLASSES, Recipe

    members = typing.get_args(typing.get_args(Recipe)[0])
    assert set(members) == set(RECIPE_CLASSES) == {s.recipe_class() for s in STAGES}
    assert stage_names() == stages.stage_names()
    with pytest.raises(Exception, match="stage"):
        validate_recipe({"stage": "no-such-stage"})


def test_every_runner_follows_the_stage_protocol() -> None:
    for spec in STAGES:
        runner = stages.runner_for(spec.name)
        params = list(inspect.signature(runner).parameters)
        assert len(params) == 2, f"{spec.runner} takes (recipe, ctx), not {params}"
    with pytest.raises(KeyError, match="no runner for stage 'nope'"):
        stages.runner_for("nope")


def test_resume_is_derived_from_the_registry() -> None:
    from slm_workbench.engine.runs import launcher

    assert launcher.RESUMABLE_STAGES == stages.resumable_stages() == {s.name for s in STAGES if s.resumable}


def _cli_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[prefix + (name,)] = sub
                found.update(_cli_commands(sub, prefix + (name,)))
    return found


def test_every_stage_command_exists_in_the_cli() -> None:
    from slm_workbench.cli.main import build_parser

    commands = _cli_commands(build_parser())
    for spec in STAGES:
        if spec.command:
            assert spec.command in commands, f"stage {spec.name}: `slmw {' '.join(spec.command)}` is not a command"


def test_every_view_is_a_pane_that_can_open_a_run() -> None:
    import importlib

    from slm_workbench.ui.screens.workbench import PANE_CLASSES, PANES

    pane_ids = {pane_id for pane_id, _title in PANES}
    for spec in STAGES:
        assert spec.view in pane_ids, f"stage {spec.name}: view {spec.view!r} is not a pane"
        if spec.view == "runs":
            continue
        module, _, name = PANE_CLASSES[spec.view].partition(":")
        pane = getattr(importlib.import_module(module), name)
        assert callable(getattr(pane, "open_run", None)), f"{name} cannot open a {spec.name} run"


def test_the_registry_does_not_import_what_it_names() -> None:
    import subprocess
    import sys

    code = ("import sys, slm_workbench.engine.stages as s; s.stage_names(); s.model_stages(); "
            "print(sorted(m for m in sys.modules if m.startswith(('pydantic', 'torch', 'slm_workbench.config'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_the_cli_job_commands_are_the_registry() -> None:
    from slm_workbench.cli.main import build_parser

    commands = _cli_commands(build_parser())
    started = {path: p.get_default("job_stage") for path, p in commands.items() if p.get_default("job_stage")}
    assert started == {s.command: s.name for s in STAGES if s.command}
    assert ("run",) in commands and commands[("run",)].get_default("job_stage") is None  # any recipe


class Check2Recipe(Section):
    """A stage for the test below."""

    stage: Literal["check2"] = "check2"
    seconds: float = Field(default=1.0, gt=0)
    """How long."""
    device: Literal["cpu", "cuda"] = "cpu"


def test_a_registered_stage_without_a_command_module_gets_a_job_command(monkeypatch, capsys) -> None:
    """One registry line gives a new stage its CLI command, flags from its recipe, and the job convention."""
    from slm_workbench.cli import main
    from slm_workbench.engine.stages import StageSpec

    spec = StageSpec("check2", "Second check", "tests.engine.test_stages:Check2Recipe",
                     "slm_workbench.engine.system.stage:run", command=("system", "check2"))
    monkeypatch.setattr(stages, "STAGES", (*STAGES, spec))
    monkeypatch.setattr("slm_workbench.cli.stage_cmd.STAGES", (*STAGES, spec))
    started = []
    monkeypatch.setattr("slm_workbench.cli.stage_cmd.run_recipe_job",
                        lambda recipe, *, title, args: started.append((recipe, title, args.detach)) or 0)
    commands = _cli_commands(main.build_parser())
    assert commands[("system", "check2")].get_default("job_stage") == "check2"
    assert main.main(["system", "check2", "--seconds", "2", "--device", "cpu", "--detach"]) == 0
    recipe, title, detached = started[0]
    assert (recipe.stage, recipe.seconds, recipe.device, title, detached) == ("check2", 2.0, "cpu", "second check", True)
    assert main.main(["system", "check2", "--seconds", "-1"]) == 1
    assert "slmw system check2: seconds: Input should be greater than 0" in capsys.readouterr().err


def test_every_launch_check_is_importable_and_takes_the_recipe() -> None:
    for spec in STAGES:
        if (check := spec.launch_check()) is not None:
            params = list(inspect.signature(check).parameters)
            assert len(params) == 1, f"{spec.name}'s check takes (recipe), not {params}"
