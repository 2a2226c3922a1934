"""``slmw deploy bench TARGET --clients 1,4,8 --requests N``: the load benchmark, a job.

TARGET is a model spec (served on 127.0.0.1 for the benchmark) or the URL of a server
already running on this machine. ``--json`` prints ``bench.json``; otherwise the table.
"""

from __future__ import annotations

import argparse
import json

from ..config.deploy_bench import BenchRecipe
from ..engine.runs.run import Run
from .jobs import add_job_flags, launch_until_done
from .output import print_json
from .recipe_flags import add_recipe_flags, build_recipe


def add_command(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("bench", help="load-benchmark a model's server on this machine (a job, followed)",
                         description="N concurrent clients against the server on 127.0.0.1: time to first token "
                                     "p50/p95, tokens/s per client and in aggregate, errors, the server's peak RSS.")
    add_recipe_flags(p, BenchRecipe, positional=("target",),
                     help={"target": "model, MODEL:VARIANT, run id or folder (served for the benchmark), "
                                     "or http://127.0.0.1:PORT/v1"})
    add_job_flags(p, stage="deploy.bench")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    recipe = build_recipe(args, where="slmw deploy bench")
    if recipe.target.startswith(("http://", "https://")):
        from ..engine.deploy.bench.load import require_loopback

        require_loopback(recipe.target)
    else:
        from .models_cmd import ensure_model

        ensure_model(recipe.target)
    info = launch_until_done(recipe, title=f"load benchmark {recipe.target}", args=args)
    if info is None:
        return 0
    report = Run(info.dir).artifact("bench.json")
    if args.json:
        print_json(json.loads(report.read_text(encoding="utf-8")))
    else:
        print(report.with_name("bench.md").read_text(encoding="utf-8"), end="")
    return 0
