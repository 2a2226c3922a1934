"""The built-in model on first use: every command, pane and job that needs it prepares it here.

- ``model_to_prepare(spec)`` says, from paths alone, whether ``spec`` (a model, or one of its
  variants ``MODEL:VARIANT``) is the built-in model not converted yet.
- ``ensure_prepared(spec, on_progress=…)`` is what the CLI and the TUI call before they use a
  model: it starts a ``models.prepare`` job (or joins the one already running), reports its
  progress, and returns once the folder is there. The conversion is a job like any other, so it
  shows in the Runs pane and goes on if the caller goes away.
- ``prepare_in_job(spec, ctx)`` is what a job calls (train, export, compare): it prepares
  inline, its progress becoming the job's own events.

Only the built-in model is prepared without being asked: a GGUF file or a hub id is prepared
inside a job that names it (the hub is the network), or with ``slmw models prepare``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .errors import Cancelled, ModelNotFoundError, WorkbenchError
from .events import Error, Progress
from .runs import store as run_files
from .runs.context import RunContext
from .runs.status import TERMINAL_STATES
from .runs.follow import follow_events
from .models.builtin import BUILTIN_MODELS
from .models.resolve import ModelRef, parse_model
from .models.variants import split_variant


def model_to_prepare(spec: str | None) -> ModelRef | None:
    """The built-in model ``spec`` names (itself or a variant of it) when it is not prepared yet."""
    try:
        ref = parse_model(split_variant(spec).base if spec else None)
    except WorkbenchError:
        return None  # a run id, an endpoint, a variant folder: not a model to prepare
    return ref if ref.kind == "builtin" and not ref.prepared else None


def prepare_job(ref: ModelRef, run_store: run_files.RunStore | None = None, *, start: bool = True) -> Path | None:
    """The run directory of the job preparing ``ref``: the one already running, else a new one
    (else None, with ``start=False``)."""
    from ..config.recipes import PrepareModelRecipe
    from .runs.launcher import start_recipe

    run_store = run_store or run_files.RunStore()
    for run in run_store.list():
        if run.stage == "models.prepare" and run.alive and _prepares(run.dir, ref):
            return run.dir
    if not start:
        return None
    if ref.kind == "builtin":
        BUILTIN_MODELS[ref.name].check_installed()  # fail here, clearly, when a package is missing
    return start_recipe(PrepareModelRecipe(model=ref.spec), title=f"prepare {ref.name}", run_store=run_store)


def _prepares(run_dir: Path, ref: ModelRef) -> bool:
    from .runs.run import Run

    model = Run(run_dir).recipe_data().get("model")
    try:
        return isinstance(model, str) and parse_model(model).folder == ref.folder
    except WorkbenchError:
        return False


def ensure_prepared(
    spec: str | None,
    *,
    on_progress: Callable[[str], None] = lambda text: None,
    keep_waiting: Callable[[], bool] = lambda: True,
    run_store: run_files.RunStore | None = None,
    start: bool = True,
    poll: float = 0.2,
) -> Path | None:
    """Prepare the built-in model ``spec`` needs as a job and wait for it; None when none is needed
    (or, with ``start=False``, when no job is preparing it already: then only a running one is joined).

    ``on_progress`` gets one line per progress event (the first names the job); when
    ``keep_waiting()`` turns false the wait ends with ``Cancelled`` and the job goes on.
    """
    ref = model_to_prepare(spec)
    if ref is None:
        return None
    run_dir = prepare_job(ref, run_store, start=start)
    if run_dir is None:
        return None
    on_progress(f"preparing {ref.name} (job {run_dir.name})")
    errors: list[Error] = []
    for info, events in follow_events(run_dir, poll=poll):
        for event in events:
            if isinstance(event, Progress):
                on_progress(f"preparing {ref.name}: {event.summary()}")
            elif isinstance(event, Error):
                errors.append(event)
        if info.state not in TERMINAL_STATES and info.state != "corrupt" and not keep_waiting():
            raise Cancelled(f"stopped waiting for {run_dir.name}; it goes on")
    if info.state != "done" or not ref.prepared:
        why = errors[-1].message if errors else f"the job ended {info.state}"
        raise ModelNotFoundError(f"preparing {ref.name} failed (run {run_dir.name}): {why}",
                                 hint=f"see {run_dir / run_files.LOG}; try again: slmw models prepare {ref.name}")
    on_progress(f"{ref.name} prepared")
    return ref.folder


def prepare_in_job(spec: str | None, ctx: RunContext) -> None:
    """Inside a job: prepare the model ``spec`` names if it is a model that is not prepared yet
    (built-in, GGUF or hub id), its progress as this job's events. A run id: nothing to do."""
    try:
        ref = parse_model(split_variant(spec).base if spec else None)
    except ModelNotFoundError:
        return  # a run id (or nothing usable: the stage's own resolving says what is wrong)
    if ref.prepared or not ctx.writes:
        return
    from .models.prepare import prepare_model

    ctx.progress(f"preparing {ref.name}", 0, None)
    prepare_model(ref, on_phase=lambda phase, done, total: ctx.progress(phase, done, total or None, "steps"),
                  check_cancelled=ctx.check_cancelled)
