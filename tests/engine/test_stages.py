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

    from slm_workbench.ui.screens.workbench import PANES, pane_class

    pane_ids = {pane_id for pane_id, _title in PANES}
    for spec in STAGES:
        assert spec.view in pane_ids, f"stage {spec.name}: view {spec.view!r} is not a pane"
        if spec.view == "runs":
            continue
        module, _, name = pane_class(spec.view).partition(":")
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


def _package(spec) -> str:
    module, _, function = spec.runner.partition(":")
    assert module.startswith("slm_workbench.engine.") and module.endswith(".stage") and function == "run", \
        f"stage {spec.name}: its runner is {spec.runner}, not slm_workbench.engine.<package>.stage:run"
    return module.removesuffix(".stage")


def test_each_stage_has_a_package_of_its_own_whose_stage_py_holds_runner_and_check() -> None:
    packages = [_package(spec) for spec in STAGES]
    assert len(set(packages)) == len(packages), f"two stages share a package: {sorted(packages)}"
    for spec in STAGES:
        check = spec.launch_check()
        if check is not None:
            assert check.__module__ == spec.runner.partition(":")[0], \
                f"stage {spec.name}: its launch check is {check.__module__}.{check.__name__}, not beside its runner"


def _ROOT():  # noqa: N802
    from pathlib import Path

    import slm_workbench

    return Path(slm_workbench.__file__).parent


GENERIC = ("cli/main.py", "cli/stage_cmd.py", "ui/screens/workbench.py", "ui/screens/deploy_pane.py",
           "engine/preflight/__init__.py", "engine/preflight/disk.py", "engine/preflight/needs.py")
"""Modules that read the registry: none of them names a stage, a stage's module or its command."""


def _literals_and_imports(path) -> tuple[set[str], set[str]]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    literals = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
            imported.update(f"{node.module or ''}.{alias.name}".lstrip(".") for alias in node.names)
    return literals, imported


def test_no_generic_module_names_a_stage() -> None:
    """A hand-kept list (commands, pane tables, targets, launch checks) in a module the registry drives fails here."""
    from slm_workbench.ui.screens.workbench import PANE_IDS

    names = {spec.name for spec in STAGES}
    runners = {spec.runner.partition(":")[0] for spec in STAGES}
    packages = {_package(spec).removeprefix("slm_workbench.engine.") for spec in STAGES}
    cli_modules = {spec.cli.partition(":")[0] for spec in STAGES if spec.cli}
    cli_functions = {spec.cli.partition(":")[2] for spec in STAGES if spec.cli}
    for relative in GENERIC:
        literals, imported = _literals_and_imports(_ROOT() / relative)
        allowed = set(PANE_IDS) if relative.endswith("workbench.py") else set()  # a pane's id may be its stage's name
        named = (literals & names) - allowed
        assert not named, f"{relative} names stage(s) {sorted(named)}: read them from the stage registry"
        named = {s for s in literals if any(r in s for r in runners)}
        assert not named, f"{relative} names a stage's runner: {sorted(named)}"
        strict = relative.startswith("engine/preflight/")  # the launch check: nothing of any stage package
        reached = {m for m in imported for p in packages
                   if ((m.removeprefix("engine.") == p or m.removeprefix("engine.").startswith(f"{p}.")) if strict
                       else (m.endswith(f"{p}.stage") or f"{p}.stage." in m))}
        assert not reached, f"{relative} imports a stage's module: {sorted(reached)}"
        source = (_ROOT() / relative).read_text(encoding="utf-8")
        stage_only = {m for m in cli_modules if not hasattr(__import__(f"slm_workbench.cli.{m}", fromlist=["_"]),
                                                             "add_parser")}
        reached = {m for m in imported if m.rsplit(".", 1)[-1] in stage_only}
        assert not reached, f"{relative} imports a stage's command module: {sorted(reached)}"
        called = {f for f in cli_functions if f".{f}(" in source}
        assert not called, f"{relative} adds a stage command itself ({sorted(called)}): the registry's cli field does"


def test_a_stage_left_out_of_the_registry_has_no_command(monkeypatch) -> None:
    """Commands come from the registry only: without its line, a stage's command is gone too."""
    from slm_workbench.cli import main

    for spec in STAGES:
        if not spec.command:
            continue
        kept = tuple(s for s in STAGES if s is not spec)
        monkeypatch.setattr(stages, "STAGES", kept)
        monkeypatch.setattr("slm_workbench.cli.stage_cmd.STAGES", kept)
        commands = _cli_commands(main.build_parser())
        assert spec.command not in commands, f"`slmw {' '.join(spec.command)}` is added without the registry"


def test_the_deploy_targets_are_the_registry() -> None:
    from slm_workbench.ui.screens.deploy_pane import available_targets

    assert sorted(available_targets()) == sorted((s.name, s.title) for s in STAGES if s.view == "deploy")
