"""Start a recipe as a detached job from the shell, then follow it or return its id."""

from __future__ import annotations

from typing import Any

from ..engine.runs.launcher import start_recipe, wait_for
from ..engine.runs.store import RunStore
from .follow import follow
from .output import print_json


def run_recipe_job(recipe: Any, *, title: str = "", detach: bool = False, as_json: bool = False) -> int:
    run_dir = start_recipe(recipe, title=title)
    if detach:
        if as_json:
            print_json({"id": run_dir.name, "dir": str(run_dir), "state": RunStore(run_dir.parent).info(run_dir).state})
        else:
            print(run_dir.name)
        return 0
    if as_json:
        info = wait_for(run_dir)
    else:
        print(f"run {run_dir.name} started (Ctrl-C detaches; the job goes on)")
        info = follow(run_dir)
    if as_json:
        from .runs_cmd import _summary

        print_json(_summary(info))
    else:
        print(f"run {info.id}: {info.state}")
    return 0 if info.state == "done" else 1
