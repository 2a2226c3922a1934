"""``slmw eval TARGET [--data D] [--metrics a,b] [--max-examples N] …``: score a target as a job.

TARGET is a model, a run (its fine-tuned model), ``RUN:VARIANT``, an ONNX folder or an
``http(s)://`` endpoint; without ``--data`` a run is scored on the eval split it trained
with. The job writes ``predictions.jsonl`` and ``eval_report.json`` (docs/eval.md); the
summary printed at the end is the task score with its bootstrap 95% interval.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config.eval import EvalRecipe
from .jobs import add_job_flags, launch_and_follow
from .output import print_json
from .recipe_flags import add_recipe_flags, build_recipe


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="score a model, run, variant or endpoint on held-out examples (a job, followed)",
                       description=(EvalRecipe.__doc__ or "").strip())
    p.add_argument("target", nargs="?", metavar="TARGET",
                   help="model, run id, RUN:VARIANT, MODEL:VARIANT, ONNX folder, or http(s):// endpoint")
    p.add_argument("--recipe", type=Path, default=None, help="a YAML recipe with stage: eval (flags override it)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field; repeatable")
    add_recipe_flags(p, EvalRecipe, exclude={"target": "the TARGET argument"})
    add_job_flags(p, stage="eval")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    from ..config.loading import apply_overrides, read_recipe_data, recipe_file
    from ..engine.errors import RecipeError

    where = str(recipe_file(args.recipe)) if args.recipe else "slmw eval"
    data = read_recipe_data(args.recipe, args.overrides) if args.recipe else apply_overrides({}, args.overrides)
    if data.get("stage", "eval") != "eval":
        raise RecipeError(f"{where}: stage is {data['stage']!r}; `slmw eval` runs stage: eval")
    fixed = {"target": args.target} if args.target else {}
    if not fixed and "target" not in data:
        raise RecipeError("slmw eval: give the TARGET to score (a model, run, RUN:VARIANT or endpoint)")
    recipe = build_recipe(args, where=where, base={**data, "stage": "eval"}, fixed=fixed)
    info = launch_and_follow(recipe, title=f"eval {recipe.target}", args=args)
    if info is None:
        return 0
    from ..engine.runs.run import Run

    report = Run(info.dir).eval_report()
    if args.json:
        print_json({"id": info.id, "state": info.state, "report": report})
    elif report is not None:
        print(format_report(report))
    else:
        print(f"run {info.id}: {info.state}")
    return 0 if info.state == "done" else 1


def format_report(report: dict) -> str:
    lines = [f"{report['target']} on {report['examples']} examples of {report['data']}: "
             f"{report['passed']} passed, {report['failed']} failed"]
    for name, agg in report["metrics"].items():
        if agg.get("mean") is None:
            lines.append(f"  {name:<12} n/a")
            continue
        lines.append(f"  {name:<12} {agg['mean']:8.4f}  95% [{agg['low']:.4f}, {agg['high']:.4f}]  n={agg['n']}")
    for key, value in (report.get("fields") or {}).items():
        lines.append(f"  field {key:<10} {value['accuracy']:.3f}  n={value['n']}")
    return "\n".join(lines)
