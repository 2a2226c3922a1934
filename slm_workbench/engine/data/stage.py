"""Job stage ``data.prepare``: prepare a dataset as a detached job, with progress events.

Progress comes from the pipeline's own callback (phases ``reading``, ``hashing``,
``writing``); a stop request is honoured between batches and leaves no partial output.
The manifest and the dataset folder are the run's artifacts, and the row counts its
metrics, so the Runs pane and ``slmw runs show`` see the same figures as the CLI.
"""

from __future__ import annotations

from ...config.data import PrepareDataRecipe
from ..preflight.needs import LaunchNeeds, raw_data_need
from ..runs.context import RunContext
from .prepare import MANIFEST, prepare_dataset


def run(recipe: PrepareDataRecipe, ctx: RunContext) -> None:
    result = prepare_dataset(recipe, on_progress=ctx.progress, check_cancelled=ctx.check_cancelled)
    dropped = ", ".join(f"{n} {reason}" for reason, n in sorted(result.dropped.items())) or "none"
    print(f"[data.prepare] {result.rows_in} rows in, {result.train_rows} train, {result.eval_rows} eval; dropped: {dropped}", flush=True)
    for issue in result.issues[:20]:
        ctx.warn(str(issue))
    ctx.metrics({"rows_in": result.rows_in, "train_rows": result.train_rows, "eval_rows": result.eval_rows,
                 **{f"dropped_{k}": v for k, v in result.dropped.items()}, "tokens": result.stats.tokens,
                 "trained_tokens": result.stats.trained_tokens})
    assert result.output is not None
    ctx.artifact("dataset", result.output, f"prepared dataset ({recipe.output_format}): {result.train_rows} train, {result.eval_rows} eval rows")
    ctx.artifact("manifest", result.output / MANIFEST, "source hash, settings, tokenizer, rows kept and dropped")


def check(recipe: PrepareDataRecipe) -> LaunchNeeds:
    """The launch check: the prepared dataset takes a multiple of the source's size."""
    from pathlib import Path

    return LaunchNeeds(raw_data_need(Path(recipe.source).expanduser(), Path(recipe.output).expanduser(),
                                     "the prepared dataset"))
