"""``slmw system info | check`` (``check`` is stage ``system.check``'s command: ``add_check``)."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from ..config.recipes import SystemCheckRecipe
from ..engine import paths, system
from .jobs import add_job_flags, run_recipe_job
from .output import human_bytes, print_json
from .recipe_flags import add_recipe_flags, build_recipe
from .stage_cmd import add_stage_verbs


def add_parser(sub: argparse._SubParsersAction) -> None:
    sys_parser = sub.add_parser("system", help="machine telemetry and a throughput check")
    verbs = sys_parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("info", help="CPU, RAM, GPUs (NVML) and where the workbench keeps its files")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    add_stage_verbs(verbs, ("system",))  # check (add_check)


def add_check(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("check", help="measure matmul throughput as a job (CPU or GPU)")
    add_recipe_flags(p, SystemCheckRecipe)
    add_job_flags(p, stage="system.check")
    p.set_defaults(func=cmd_check)


def cmd_info(args: argparse.Namespace) -> int:
    system.sample()  # psutil's first cpu_percent is meaningless; prime it
    import time

    time.sleep(0.2)
    snap = system.sample()
    where = {"home": str(paths.home()), "models": str(paths.models_dir()), "runs": str(paths.runs_dir())}
    if args.json:
        print_json({**asdict(snap), **where})
        return 0
    print(f"CPU   {snap.cpu_count} logical cores, {snap.cpu_percent:.0f}% busy")
    print(f"RAM   {human_bytes(snap.ram_used)} / {human_bytes(snap.ram_total)}")
    if not snap.gpus:
        print("GPU   none visible through NVML")
    for gpu in snap.gpus:
        print(f"GPU{gpu.index}  {gpu.name}: {gpu.util_percent:.0f}% busy, {human_bytes(gpu.mem_used)} / {human_bytes(gpu.mem_total)}")
    for key, value in where.items():
        print(f"{key:6}{value}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    recipe = build_recipe(args, where="slmw system check")
    return run_recipe_job(recipe, title=f"system check ({recipe.device})", args=args)
