"""Start a recipe as a detached job from the shell: one convention for every job command.

A job command follows its job by default, printing its progress until it ends; Ctrl-C
detaches (the job goes on; the first line says so). ``--detach`` returns at once with the
run id on stdout and how to follow it on stderr. ``--json`` waits quietly and prints one
object. ``--force`` starts the job even where the preflight would refuse it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..engine.runs.launcher import start_recipe, wait_for
from ..engine.runs.store import RunInfo, RunStore
from .follow import follow
from .output import print_json


def add_job_flags(p: argparse.ArgumentParser, *, stage: str | None) -> None:
    """The flags of every job command; ``stage`` is the registered stage it starts (``None`` for
    ``slmw run``, which starts any), checked against the stage registry by the tests."""
    p.set_defaults(job_stage=stage)
    p.add_argument("--detach", action="store_true",
                   help="return once the job has started, printing its id (default: follow it; Ctrl-C detaches)")
    p.add_argument("--force", action="store_true", help="start even where the preflight refuses (memory, disk)")
    p.add_argument("--json", action="store_true", help="wait quietly, then print the result as JSON")


def launch_and_follow(recipe: Any, *, title: str, args: argparse.Namespace) -> RunInfo | None:
    """Start the job; follow it to its end (its final info), or return ``None`` when detached."""
    run_dir = start_recipe(recipe, title=title, force=getattr(args, "force", False))
    if args.detach:
        if args.json:
            print_json({"id": run_dir.name, "dir": str(run_dir), "state": RunStore(run_dir.parent).info(run_dir).state})
        else:
            print(run_dir.name)
        print(f"follow it: slmw runs logs {run_dir.name} -f", file=sys.stderr)
        return None
    if args.json:
        return wait_for(run_dir)
    print(f"run {run_dir.name} started (Ctrl-C detaches; the job goes on)", flush=True)
    return follow(run_dir)


def launch_and_wait(recipe: Any, *, title: str, args: argparse.Namespace) -> RunInfo | None:
    """``--wait``: start it and wait without printing its progress; otherwise ``launch_and_follow``."""
    if getattr(args, "wait", False) and not (args.detach or args.json):
        run_dir = start_recipe(recipe, title=title, force=getattr(args, "force", False))
        print(f"run {run_dir.name} started; waiting (Ctrl-C leaves it running)", flush=True)
        return wait_for(run_dir)
    return launch_and_follow(recipe, title=title, args=args)


def launch_until_done(recipe: Any, *, title: str, args: argparse.Namespace) -> RunInfo | None:
    """``launch_and_follow``, and a job that did not end ``done`` is one error line: its last error
    (and hint) or how it ended, naming the run."""
    from ..engine.errors import WorkbenchError
    from ..engine.runs.run import Run

    info = launch_and_follow(recipe, title=title, args=args)
    if info is not None and info.state != "done":
        run = Run(info.dir)
        error = run.last_error()
        raise WorkbenchError(f"run {info.id}: {error.message if error else f'the job ended {info.state}'}",
                             hint=(error.hint if error and error.hint else f"see {run.log_path}"))
    return info


def run_recipe_job(recipe: Any, *, title: str, args: argparse.Namespace) -> int:
    info = launch_and_follow(recipe, title=title, args=args)
    if info is None:
        return 0
    if args.json:
        from .runs_cmd import _summary

        print_json(_summary(info))
    else:
        print(f"run {info.id}: {info.state}")
    return 0 if info.state == "done" else 1
