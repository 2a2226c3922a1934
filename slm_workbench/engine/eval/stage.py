"""Job stage ``eval``: resolve the target and the examples, score them, report."""

from __future__ import annotations

from ...config.eval import EvalRecipe
from ..errors import WorkbenchError
from ..first_use import prepare_in_job
from ..preflight.needs import LaunchNeeds
from ..runs.context import RunContext
from .answerers import open_answerer
from ..runs.run import EVAL_REPORT, PREDICTIONS
from .evaluate import EvalSettings, evaluate
from .examples import load_examples


def default_data(target: str) -> str:
    """The eval split of the dataset a run trained on, for a run or one of its variants."""
    from ..model_source import ANY_SOURCE, resolve_source

    try:
        run = resolve_source(target, accept=ANY_SOURCE, prepared=False).run
    except WorkbenchError:
        run = None
    if run is not None:
        data = run.eval_dataset()
        if data is not None:
            return str(data)
        raise WorkbenchError(f"run {run.id} names no prepared dataset with an eval split to score on",
                             hint="give the examples with --data")
    raise WorkbenchError(f"{target} is not a run, so there is no default eval data", hint="give the examples with --data")


def run(recipe: EvalRecipe, ctx: RunContext) -> None:
    if not recipe.target.startswith(("http://", "https://")):
        prepare_in_job(recipe.target, ctx)
    data = recipe.data or default_data(recipe.target)
    ctx.progress("reading the examples", 0, None)
    examples = load_examples(data, recipe.max_examples)
    if examples.invalid:
        ctx.warn(f"{examples.invalid} row(s) of {data} could not be read and are not scored; the first: {examples.first_issue}")
    if examples.without_reference:
        ctx.warn(f"{examples.without_reference} row(s) of {data} have no reference answer and are not scored")
    print(f"[eval] {recipe.target}: {len(examples.examples)} examples of {data}", flush=True)
    answerer = open_answerer(recipe.target, adapter=recipe.adapter, threads=recipe.threads,
                             endpoint_model=recipe.endpoint_model, api_key_env=recipe.api_key_env,
                             timeout=recipe.request_timeout_s, retries=recipe.retries,
                             on_status=lambda text: ctx.progress(text, 0, None))
    settings = EvalSettings(metrics=tuple(recipe.metrics) if recipe.metrics else None,
                            max_new_tokens=recipe.max_new_tokens, bootstrap_samples=recipe.bootstrap_samples,
                            seed=recipe.seed)
    total = len(examples.examples)
    try:
        report = evaluate(answerer, examples, ctx.artifacts_dir, settings, target=recipe.target,
                          on_progress=lambda done, _total: ctx.progress("answering", done, total, "examples"),
                          check_cancelled=ctx.check_cancelled)
    finally:
        answerer.close()
    ctx.metrics({"eval_" + name: value["mean"] for name, value in report["metrics"].items()})
    ctx.artifact(PREDICTIONS, ctx.artifacts_dir / PREDICTIONS, "every example: prompt, reference, prediction, scores")
    ctx.artifact(EVAL_REPORT, ctx.artifacts_dir / EVAL_REPORT, "aggregates with bootstrap 95% intervals")
    print(summary_line(report), flush=True)


def summary_line(report: dict) -> str:
    task = report["metrics"].get("task") or {}
    mean = task.get("mean")
    shown = f"{mean:.3f} [{task['low']:.3f}, {task['high']:.3f}]" if mean is not None else "n/a"
    return f"[eval] task {shown} on {report['examples']} examples; {report['passed']} passed, {report['failed']} failed"


def check(recipe: EvalRecipe) -> LaunchNeeds:
    """The launch check, of what no flag fixes: a target that names nothing, data that is not
    there, perplexity of an endpoint."""
    from pathlib import Path

    from ..chat.locate import resolve_target
    from ..data.sources import DEMO_ALIASES
    from ..first_use import model_to_prepare
    from .answerers import refuse_unsupported

    endpoint = recipe.target.startswith(("http://", "https://"))
    if endpoint and recipe.metrics and "perplexity" in recipe.metrics:
        raise WorkbenchError(f"{recipe.target}: perplexity needs token probabilities, which an endpoint does not give here",
                             hint="leave perplexity out of --metrics for an endpoint")
    if not endpoint and model_to_prepare(recipe.target) is None:
        refuse_unsupported(resolve_target(recipe.target, adapter=recipe.adapter), recipe.target)  # or names what it is not
    data = recipe.data
    if data is not None:
        if not Path(data).expanduser().exists() and data not in DEMO_ALIASES:
            raise WorkbenchError(f"no such eval data: {data}")
    else:
        data = default_data(recipe.target)
    load_examples(data, 1)  # raises when no row has a reference answer
    return LaunchNeeds()
