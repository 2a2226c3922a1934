"""Job stage ``data.generate``: resolve the prompts, the checker and the teacher, then generate.

The output folder is the recipe's ``output``, else the run's ``artifacts/generated``
(``output_dir``). Started again on the same run (``slmw runs resume``) or with the same
output (``slmw data generate ... --resume``), the job goes on where the rows stop.
``check`` is the launch check: the prompts, the checker, the teacher's name and a resume's
settings, all without loading a model.
"""

from __future__ import annotations

from pathlib import Path

from ...config.generate import GenerateRecipe
from ..errors import WorkbenchError
from ..preflight.needs import LaunchNeeds
from ..runs.context import RunContext
from ..runs.run import Run
from .filters import Checker, load_checker
from .loop import Teacher, check_resume, generate
from .layout import GENERATED_DATA, GENERATED_DIR, GENERATED_MANIFEST, GENERATED_ROWS
from .prompts import PromptSet, load_prompts


def output_dir(recipe: GenerateRecipe, run_dir: Path) -> Path:
    """Where the run writes ``rows.jsonl``, ``data.jsonl`` and ``manifest.json``: the recipe's
    ``output`` (a relative one inside the run directory), else the run's ``artifacts/generated``."""
    if not recipe.output:
        return Run(run_dir).artifacts_dir / GENERATED_DIR
    return (Path(run_dir) / Path(recipe.output).expanduser()).resolve()


def is_endpoint(teacher: str) -> bool:
    return teacher.startswith(("http://", "https://"))


def resolve_inputs(recipe: GenerateRecipe) -> tuple[PromptSet, Checker | None]:
    """The prompts and the checker, or one line saying which cannot be used (before any model loads)."""
    prompts = load_prompts(recipe.prompts, recipe.max_prompts)
    checker = load_checker(recipe.filters.checker) if recipe.filters.checker else None
    return prompts, checker


def check(recipe: GenerateRecipe) -> LaunchNeeds:
    """The launch check: prompts, checker, teacher, and a resume's settings (no model is loaded)."""
    from ..first_use import model_to_prepare

    prompts, _checker = resolve_inputs(recipe)
    if not is_endpoint(recipe.teacher) and model_to_prepare(recipe.teacher) is None:
        from ..chat.locate import resolve_target
        from ..eval.answerers import refuse_unsupported

        refuse_unsupported(resolve_target(recipe.teacher), recipe.teacher)  # or names what it is not
    if recipe.output and Path(recipe.output).expanduser().is_absolute():  # a relative one is the new run's own
        check_resume(Path(recipe.output).expanduser(), recipe, recipe.teacher, prompts.sha256)
    return LaunchNeeds()


def run(recipe: GenerateRecipe, ctx: RunContext) -> None:
    from ..eval.answerers import open_answerer
    from ..first_use import prepare_in_job

    ctx.progress("reading the prompts", 0, None)
    prompts, checker = resolve_inputs(recipe)
    out = output_dir(recipe, ctx.run_dir)
    check_resume(out, recipe, recipe.teacher, prompts.sha256)  # before the teacher loads
    if prompts.invalid:
        ctx.warn(f"{prompts.invalid} row(s) of {recipe.prompts} could not be read and are not asked; "
                 f"the first: {prompts.first_issue}")
    total = len(prompts.prompts) * recipe.samples_per_prompt
    print(f"[generate] {recipe.teacher}: {len(prompts.prompts)} prompts x {recipe.samples_per_prompt} "
          f"-> {out}", flush=True)
    if not is_endpoint(recipe.teacher):
        prepare_in_job(recipe.teacher, ctx)
    answerer = open_answerer(recipe.teacher, threads=recipe.threads, endpoint_model=recipe.endpoint_model,
                             api_key_env=recipe.api_key_env, timeout=recipe.request_timeout_s, retries=recipe.retries,
                             max_requests=recipe.max_requests, on_status=lambda text: ctx.progress(text, 0, None))
    teacher = Teacher(recipe.teacher, answerer.label, answerer.kind)

    def on_row(row: dict, tally: dict[str, int]) -> None:
        seconds = float(row.get("seconds") or 0.0)
        ctx.metrics({"step": tally["done"], "answers": tally["done"], "kept": tally["kept"],
                     "kept_fraction": round(tally["kept"] / tally["attempted"], 4) if tally["attempted"] else None,
                     "tokens": row.get("tokens"), "seconds": seconds,
                     "tokens_per_s": round(row["tokens"] / seconds, 1) if seconds > 0 and row.get("tokens") else None,
                     "verdict": row["verdict"], "reason": row["reason"]})

    try:
        manifest = generate(answerer, prompts, out, recipe, teacher, checker=checker, on_row=on_row,
                            on_progress=lambda done, _total: ctx.progress("generating", done, total, "answers"),
                            check_cancelled=ctx.check_cancelled)
    finally:
        answerer.close()
    ctx.artifact(GENERATED_DATA, out / GENERATED_DATA, "the kept answers as a chat dataset (slmw train takes it)")
    ctx.artifact(GENERATED_ROWS, out / GENERATED_ROWS, "every answer with its verdict")
    ctx.artifact(GENERATED_MANIFEST, out / GENERATED_MANIFEST, "teacher, settings, prompt source and counts")
    print(summary_line(manifest, out), flush=True)
    if manifest["counts"]["kept"] == 0:
        raise WorkbenchError(f"the teacher answered {manifest['counts']['attempted']} times and no answer was kept "
                             f"(dropped: {manifest['counts']['dropped'] or 'none'}); {out / GENERATED_ROWS} has each verdict",
                             hint="loosen the filters, raise max_new_tokens, or use a teacher that fits the task")


def summary_line(manifest: dict, out: Path) -> str:
    c = manifest["counts"]
    dropped = ", ".join(f"{n} {reason}" for reason, n in c["dropped"].items()) or "none"
    return (f"[generate] {c['kept']} of {c['attempted']} answers kept (dropped: {dropped}); "
            f"{out / GENERATED_DATA}")
