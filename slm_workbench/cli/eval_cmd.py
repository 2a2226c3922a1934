"""``slmw eval TARGET [--data D] [--metrics a,b] [--max-examples N] …``: score a target as a job.

TARGET is a model, a run (its fine-tuned model), ``RUN:VARIANT``, an ONNX folder or an
``http(s)://`` endpoint; without ``--data`` a run is scored on the eval split it trained
with. The job writes ``predictions.jsonl`` and ``eval_report.json`` (docs/eval.md); the
summary printed at the end is the task score with its bootstrap 95% interval.

``slmw eval --compare A B`` compares two finished eval runs on the same examples (no job):
which examples B fixed and which it broke, and each metric's paired difference with its interval.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config.eval import EvalRecipe
from .jobs import add_job_flags, launch_and_follow
from .output import print_json
from .recipe_flags import add_recipe_flags, build_recipe


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="score a model, run, variant or endpoint on held-out examples (a job, followed)",
                       description=(EvalRecipe.__doc__ or "").strip())
    p.add_argument("target", nargs="?", metavar="TARGET",
                   help="model, run id, RUN:VARIANT, MODEL:VARIANT, ONNX folder, or http(s):// endpoint")
    p.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"), default=None,
                   help="compare two eval runs on the same examples (fixed, broken, paired differences); no job")
    p.add_argument("--recipe", type=Path, default=None, help="a YAML recipe with stage: eval (flags override it)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field; repeatable")
    add_recipe_flags(p, EvalRecipe, exclude={"target": "the TARGET argument"})
    add_job_flags(p, stage="eval")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    from ..config.loading import apply_overrides, read_recipe_data, recipe_file
    from ..engine.errors import RecipeError

    if args.compare:
        return print_comparison(*args.compare, as_json=args.json)
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


def print_comparison(spec_a: str, spec_b: str, *, as_json: bool, shown: int = 10) -> int:
    from ..engine.errors import WorkbenchError
    from ..engine.eval.diff import diff_runs
    from ..engine.runs.run import Run

    runs = [Run.get(spec) for spec in (spec_a, spec_b)]
    for run in runs:
        if run.stage != "eval":
            raise WorkbenchError(f"run {run.id} is a {run.stage} run, not an evaluation", hint="give two eval runs")
    diff = diff_runs(runs[0].dir, runs[1].dir)
    if not diff.pairs:
        raise WorkbenchError(f"runs {runs[0].id} and {runs[1].id} share no example",
                             hint="evaluate both on the same data (--data)")
    counts = diff.counts()
    if as_json:
        print_json({"a": runs[0].id, "b": runs[1].id, "pairs": len(diff.pairs), "only_a": len(diff.only_a),
                    "only_b": len(diff.only_b), "counts": counts,
                    "metrics": {k: {"a": m.a, "b": m.b, "difference": m.difference, "low": m.low, "high": m.high,
                                    "n": m.n} for k, m in diff.metrics.items()},
                    "fixed": [p.key for p in diff.with_outcome("fixed")],
                    "broken": [p.key for p in diff.with_outcome("broken")]})
        return 0
    print(f"A = {runs[0].id} ({runs[0].info().title}), B = {runs[1].id} ({runs[1].info().title}): "
          f"{len(diff.pairs)} examples in both")
    print(f"B fixed {counts['fixed']}, broke {counts['broken']}; both pass {counts['both_pass']}, "
          f"both fail {counts['both_fail']}")
    for name, m in diff.metrics.items():
        mark = "" if not m.significant else ("  better" if m.better else "  worse")
        print(f"  {name:<12} A {m.a:8.4f}  B {m.b:8.4f}  B-A {m.difference:+.4f}  95% [{m.low:+.4f}, {m.high:+.4f}]{mark}")
    for outcome in ("fixed", "broken"):
        pairs = diff.with_outcome(outcome)
        for pair in pairs[:shown]:
            prompt = pair.a.messages[-1]["content"].replace("\n", " ")[:70] if pair.a.messages else pair.key
            print(f"  {outcome:<6} #{pair.a.index + 1}: {prompt}")
        if len(pairs) > shown:
            print(f"  … and {len(pairs) - shown} more {outcome} (the Eval pane lists them all)")
    return 0
