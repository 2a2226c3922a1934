"""The ``distill`` job: teacher -> generated data -> student -> training -> variants -> card.

Each phase records its state (and the child run doing its work) in ``artifacts/distill.json``
before and after it runs, so the job started again on the same run directory (``slmw runs
resume``) skips what is done and resumes the child that stopped: a generation goes on from its
last row, a training run from its last checkpoint. A stop of the distillation stops the child
the way ``slmw runs stop`` does. The teacher's training (``teacher_recipe``), the generation
(``data.generate``) and the student's training (``train``) are ordinary runs of their stages;
the student's cut, the variants and the card are done here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...config.distill import DistillRecipe
from ..errors import Cancelled, WorkbenchError
from ..models.variants import split_variant
from ..preflight.needs import LaunchNeeds
from ..runs import children, store
from ..runs.context import RunContext
from ..runs.run import Run
from ..runs.tail import FileTail
from ..train.teacher import teacher_folder
from ..generate.layout import GENERATED_DATA, GENERATED_DIR, GENERATED_MANIFEST, GENERATED_ROWS, generated_rows
from .layout import STUDENT_DIR, DistillState, read_state, write_state

CARD_WORK = "card-work"


def _count(_text: str, _line_no: int) -> int:
    return 1


class Distillation:
    """One distillation job: the phases in order, each skipped when ``distill.json`` says it is done."""

    def __init__(self, recipe: DistillRecipe, ctx: RunContext) -> None:
        self.recipe, self.ctx = recipe, ctx
        self.run_store = store.RunStore(ctx.run_dir.parent)
        self.state: DistillState = read_state(ctx.run_dir)

    # -- bookkeeping -------------------------------------------------------------------------
    def save(self) -> None:
        write_state(self.ctx.run_dir, self.state)

    def run(self) -> None:
        steps: list[tuple[str, Callable[[], str | None]]] = [
            ("teacher", self.teacher), ("generate", self.generate), ("student", self.student),
            ("train", self.train), ("export", self.export), ("card", self.card)]
        for index, (name, step) in enumerate(steps, start=1):
            phase = self.state.phase(name)
            if phase.state in ("done", "skipped"):
                continue
            self.ctx.check_cancelled()
            phase.state, phase.started, phase.ended, phase.detail = "running", time.time(), None, ""
            self.save()
            self.ctx.item_state(name, "running", detail=f"phase {index} of {len(steps)}")
            try:
                detail = step()
            except Cancelled:
                phase.state, phase.ended = "cancelled", time.time()
                self.save()
                raise
            except BaseException as exc:
                phase.state, phase.ended = "failed", time.time()
                phase.detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                self.save()
                self.ctx.item_state(name, "failed", finished=True, detail=phase.detail)
                raise
            phase.state = "skipped" if detail == "skipped" else "done"
            phase.detail, phase.ended = ("" if detail == "skipped" else detail or ""), time.time()
            self.save()
            self.ctx.item_state(name, phase.state, finished=True, detail=phase.detail)

    def child(self, phase_name: str, recipe: Any, title: str,
              on_poll: Callable[[store.RunInfo], None] = lambda info: None) -> Run:
        """Start (or resume, or re-follow) the phase's child run and wait until it ends done."""
        phase = self.state.phase(phase_name)
        short = self.ctx.run_dir.name[-4:]
        run_dir = children.start_or_resume(recipe, run_store=self.run_store, title=f"distill {short} {title}",
                                           header=f"# {title} of distillation {self.ctx.run_dir.name}",
                                           previous=phase.run)
        if phase.run != run_dir.name:
            phase.run = run_dir.name
            self.save()
        info = children.follow(run_dir, run_store=self.run_store, stop_requested=self.ctx.cancel_requested.is_set,
                               on_poll=on_poll)
        if info.state != "done":
            raise children.failure(run_dir, info.state, title)
        return Run(run_dir)

    # -- phases ------------------------------------------------------------------------------
    def teacher(self) -> str | None:
        """Who the teacher is: given, or the latest finished run of ``teacher_recipe`` (trained now if none)."""
        recipe = self.recipe
        if recipe.teacher is not None:
            spec = recipe.teacher
            if spec.startswith(("http://", "https://")):
                self.state.teacher = {"spec": spec, "answers": spec, "pytorch": None, "endpoint": True}
                return "skipped"
            found = split_variant(spec)
            base, variant = found.base, found.variant
            answers = spec if variant else (f"{spec}:{recipe.teacher_variant}" if recipe.teacher_variant else spec)
            self.state.teacher = {"spec": spec, "answers": answers, "pytorch": base}
            return "skipped"
        from ...config.train import TrainRecipe

        train = TrainRecipe.model_validate(recipe.teacher_recipe)
        found = finished_run_of(train, self.run_store)
        if found is None:
            found = self.child("teacher", train, "teacher training").id
            detail = f"trained the teacher: run {found}"
        else:
            detail = f"the teacher is run {found} (its recipe, already trained)"
        answers = f"{found}:{recipe.teacher_variant}" if recipe.teacher_variant else found
        self.state.teacher = {"spec": found, "answers": answers, "pytorch": found, "run": found}
        return detail

    def generate(self) -> str:
        from ...config.generate import GenerateRecipe

        teacher = self.state.teacher["answers"]
        recipe = GenerateRecipe.model_validate({**self.recipe.generate.model_dump(), "teacher": teacher})
        rows: FileTail[int] | None = None
        done = 0
        total = (recipe.max_prompts or 0) * recipe.samples_per_prompt or None

        def on_poll(info: store.RunInfo) -> None:
            nonlocal rows, done
            path = generated_rows(info.dir)
            if rows is None and path.exists():
                rows = FileTail(path, _count)
            if rows is not None:
                done += len(rows.read_new())
                self.ctx.progress("generate", done, total, unit="answers", item="generate")

        run = self.child("generate", recipe, "teacher answers", on_poll)
        out = run.artifacts_dir / GENERATED_DIR
        self.state.generated = str(out)
        manifest = _read_json(out / GENERATED_MANIFEST)
        counts = manifest.get("counts", {}) if isinstance(manifest, dict) else {}
        kept = _lines(out / GENERATED_DATA)
        if kept == 0:
            raise WorkbenchError(f"the teacher's answers all failed the filters: nothing to train on (run {run.id})",
                                 hint=f"read the verdicts in {out / GENERATED_ROWS}, then loosen generate.filters")
        return f"{kept} rows kept of {counts.get('attempted', '?')} answers (run {run.id})"

    def student(self) -> str:
        spec = self.recipe.student
        if spec.model is not None:
            self.state.student = {"spec": student_spec(spec.model, log=lambda line: self.ctx.progress(
                "student", message=line))}
            if self.state.student["spec"] != spec.model:
                self.state.student["from_run"] = spec.model
            warning = self.larger_student()
            if warning is not None:
                if not any(getattr(e, "kind", "") == "warning" and getattr(e, "message", "") == warning
                           for e in Run(self.ctx.run_dir).events()):  # the launch check said it already
                    self.ctx.warn(warning)
                return f"student model {spec.model}: {warning}"
            return f"student model {spec.model}"
        from .student import cut_layers

        say = lambda line: self.ctx.progress("student", message=line)  # noqa: E731
        folder = teacher_folder(self.state.teacher["pytorch"], log=say)
        say(f"cutting {spec.keep_layers} layers of {folder}")
        info = cut_layers(folder, int(spec.keep_layers), self.ctx.artifacts_dir / STUDENT_DIR,  # type: ignore[arg-type]
                          on_progress=say)
        self.state.student = {"spec": str(info.folder), "layers": list(info.kept), "params": info.params,
                              "teacher_folder": str(folder)}
        return (f"kept layers {list(info.kept)} of the teacher's {info.teacher_layers} "
                f"({info.params / 1e6:.1f}M parameters)")

    def train(self) -> str:
        from ...config.train import TrainRecipe

        fields: dict[str, Any] = dict(self.recipe.train)
        if self.recipe.student.keep_layers is not None:
            fields.setdefault("method", "full")  # a cut model re-learns how its layers connect: all weights
        fields["model"] = self.state.student["spec"]
        fields["data"] = str(Path(str(self.state.generated)) / GENERATED_DATA)
        if self.recipe.method != "sft":
            fields["distill"] = {**self.recipe.kd.model_dump(), "method": self.recipe.method,
                                 "teacher": self.state.teacher["pytorch"]}
        recipe = TrainRecipe.model_validate(fields)
        last_step = 0

        def on_poll(info: store.RunInfo) -> None:
            nonlocal last_step
            step = _last_step(info.dir)
            if step != last_step:
                last_step = step
                self.ctx.progress("train", step, recipe.max_steps, unit="steps", item="train")

        run = self.child("train", recipe, "student training", on_poll)
        self.state.student["run"] = run.id
        return f"trained in run {run.id} ({last_step or '?'} steps)"

    def export(self) -> str:
        variant = self.recipe.card.variant
        if variant == "torch":
            return "skipped"
        from ..chat.variant_build import build_on_demand

        built = []
        for role, base in (("teacher", self.teacher_base()), ("student", self.state.student["run"])):
            if base is None:
                continue
            folder = variant_folder(base, variant)
            if folder is None or not (folder / "genai_config.json").is_file():
                self.ctx.progress("export", message=f"building {base}:{variant}", item=role)
                build_on_demand(base, variant, on_status=lambda line, r=role: self.ctx.progress(
                    "export", message=line, item=r))
                built.append(f"{role} {base}:{variant}")
            self.ctx.check_cancelled()
        return "built " + ", ".join(built) if built else f"both {variant} variants were built already"

    def card(self) -> str:
        from .card import measure_card, summary_lines, write_card

        card_settings = self.recipe.card
        teacher_base = self.teacher_base()
        if teacher_base is None:
            raise WorkbenchError("an endpoint teacher has no speed or memory to measure here",
                                 hint="score it with `slmw eval URL --data …` and the student with `slmw eval RUN`")
        eval_data = self.card_data()
        teacher = card_model("teacher", teacher_base, card_settings.variant)
        student = card_model("student", self.state.student["run"], card_settings.variant)
        card = measure_card(
            teacher, student, eval_data=eval_data, settings=card_settings, work_dir=self.ctx.run_dir / CARD_WORK,
            on_progress=lambda role, phase, done, total: self.ctx.progress(f"card: {phase}", done, total, item=role),
            check_cancelled=self.ctx.check_cancelled)
        card["generation"] = {"folder": self.state.generated, "run": self.state.run_of("generate")}
        card["train_run"] = self.state.student.get("run")
        card["method"] = self.recipe.method
        card["student_layers"] = self.state.student.get("layers")
        path = write_card(card, self.ctx.artifacts_dir)
        self.ctx.artifact("card", path, "teacher vs student: speedup, memory_ratio, accuracy_retained")
        self.ctx.metrics({k: card[k] for k in ("speedup", "memory_ratio", "accuracy_retained") if card.get(k) is not None})
        return "; ".join(summary_lines(card))

    # -- helpers -----------------------------------------------------------------------------
    def larger_student(self) -> str | None:
        """The warning for a student model with more parameters than the teacher (None: smaller, or unknown)."""
        from .estimate import model_folder

        pytorch = self.state.teacher.get("pytorch")
        try:
            teacher, _why = model_folder(pytorch) if pytorch else (None, "")
            student, _why = model_folder(str(self.recipe.student.model))
        except WorkbenchError:  # refused at launch; the training phase says it again
            return None
        return sizes_warning(teacher, student) if student is not None else None

    def teacher_base(self) -> str | None:
        """The model or run the teacher's variants belong to (None for an endpoint)."""
        if self.state.teacher.get("endpoint"):
            return None
        return split_variant(self.state.teacher["answers"]).base

    def card_data(self) -> Path:
        if self.recipe.card.data:
            return data_path(self.recipe.card.data)
        from ..model_source import find_run

        run = find_run(self.teacher_base() or "", self.run_store)
        found = run.eval_dataset() if run is not None else None
        if found is None:
            raise WorkbenchError("the card needs held-out examples and the teacher names none",
                                 hint="set card.data (a JSONL of chats, a prepared folder, or slmw:demo-eval)")
        return found


def data_path(spec: str) -> Path:
    """A file or folder of examples; the demo's aliases are the files shipped in the package."""
    from ...demo import DEMO_FILES

    path = DEMO_FILES.get(spec) or Path(spec).expanduser()
    if not path.exists():
        raise WorkbenchError(f"card.data: no such file or folder: {spec}")
    return path


def _read_json(path: Path) -> Any:
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _lines(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(1 for line in fh if line.strip())
    except OSError:
        return 0


def _last_step(run_dir: Path) -> int:
    """The step of the last metrics line (read from the end: the file grows by a line per step)."""
    for row in reversed(Run(run_dir).metrics(last=20)):
        try:
            return int(row.get("step") or 0)
        except (TypeError, ValueError):
            continue
    return 0


def finished_run_of(recipe: Any, run_store: store.RunStore) -> str | None:
    """The newest run that finished training exactly this recipe (as validated), else None."""
    wanted = recipe.model_dump()
    for info in sorted(run_store.list(), key=lambda i: i.id, reverse=True):
        if info.stage != "train" or info.state != "done":
            continue
        try:
            if Run(info.dir).recipe().model_dump() == wanted:
                return info.id
        except Exception:  # noqa: BLE001 - an unreadable recipe is simply not a match
            continue
    return None


def variant_folder(base: str, variant: str) -> Path | None:
    from ..model_source import resolve_source

    try:
        return resolve_source(base).variant_dir(variant)
    except WorkbenchError:
        return None


def card_model(role: str, base: str, variant: str) -> Any:
    """What the card measures of ``base`` (a model or run): its ONNX ``variant``, or PyTorch fp32."""
    from ..export.export import read_variant_info
    from .card import CardModel

    if variant == "torch":
        folder = teacher_folder(base)
        return CardModel(role, base, "torch", folder, "fp32", folder, "torch")
    folder = variant_folder(base, variant)
    if folder is None or not (folder / "genai_config.json").is_file():
        raise WorkbenchError(f"{base}:{variant} is not built", hint=f"build it: slmw export {base} --variants {variant}")
    hf = teacher_folder(base)
    return CardModel(role, f"{base}:{variant}", "onnx", folder, str(read_variant_info(folder).get("precision", variant)),
                     hf, variant)


def run(recipe: DistillRecipe, ctx: RunContext) -> None:
    Distillation(recipe, ctx).run()


def check(recipe: DistillRecipe) -> LaunchNeeds:
    """The launch check, of what no flag fixes: a teacher that names nothing, a student it cannot
    give, missing prompts or card data."""
    from ...config.generate import GenerateRecipe
    from ..data.sources import DEMO_ALIASES
    from ..generate.stage import is_endpoint, resolve_inputs
    from .estimate import teacher_folder as estimate_teacher_folder
    from .student import model_cost

    teacher = recipe.teacher
    if teacher is not None and is_endpoint(teacher):
        if recipe.student.keep_layers is not None:
            raise WorkbenchError(f"{teacher}: a remote teacher has no weights to cut a keep_layers student from",
                                 hint="give the student as student.model (a smaller local model)")
        if recipe.method != "sft":
            raise WorkbenchError(f"{teacher}: {recipe.method} needs the teacher's logits in the training process; "
                                 "an endpoint gives only text", hint="use method: sft (train on its answers)")
    elif recipe.student.keep_layers is not None:
        folder, _unknown = estimate_teacher_folder(recipe)  # the pane's estimate resolves it the same way, unloaded
        layers = model_cost(folder).layers if folder is not None else None
        if layers is not None and recipe.student.keep_layers >= layers:
            raise WorkbenchError(f"student.keep_layers {recipe.student.keep_layers} is not below the teacher's "
                                 f"{layers} layers", hint=f"keep 1 to {layers - 1} layers")
    elif recipe.method in ("gkd", "distillation") and recipe.student.model is not None:
        # a teacher_recipe's teacher has its base model's vocabulary (a chat template adds no token)
        spec = teacher if teacher is not None else (recipe.teacher_recipe or {}).get("model")
        if spec:
            _refuse_vocabulary_mismatch(recipe, str(spec))
    resolve_inputs(GenerateRecipe.model_validate({**recipe.generate.model_dump(), "teacher": teacher or "teacher"}))
    card = recipe.card.data
    if card is not None and card not in DEMO_ALIASES and not Path(card).expanduser().exists():
        raise WorkbenchError(f"card.data: no such file or folder: {card}")
    needs = LaunchNeeds()
    if recipe.student.model is not None and not (teacher is not None and is_endpoint(teacher)):
        folder, _unknown = estimate_teacher_folder(recipe)
        student = _student_folder(recipe)
        warning = sizes_warning(folder, student) if student is not None else None
        if warning is not None:
            needs.warnings.append(warning)
    return needs


def student_spec(spec: str, *, log: Callable[[str], None] = print) -> str:
    """What the student's training starts from: a model as given, or a run's model (its LoRA merged once)."""
    from ..model_source import resolve_source

    if resolve_source(spec, prepared=False).run is None:
        return spec
    return str(teacher_folder(spec, log=log))


def _student_folder(recipe: DistillRecipe) -> Path | None:
    """The student model's HF folder (a run's: its model, else its base), None while it is to be prepared;
    a name that is nothing is refused here, before the teacher answers anything."""
    from .estimate import model_folder

    try:
        return model_folder(str(recipe.student.model))[0]
    except WorkbenchError as exc:
        raise WorkbenchError(f"student.model: {exc.message}", hint=exc.hint) from None


def sizes_warning(teacher: Path | None, student: Path) -> str | None:
    """A student with more parameters than the teacher: a warning naming both sizes (never a refusal)."""
    from .card import larger_student
    from .student import model_cost

    if teacher is None:
        return None
    try:
        return larger_student(model_cost(teacher).params, model_cost(student).params)
    except (OSError, ValueError, KeyError):
        return None


def _refuse_vocabulary_mismatch(recipe: DistillRecipe, teacher: str) -> None:
    """Logit KD between tokenizers that differ: refused before the teacher answers a single prompt."""
    from ..train.kd import vocabulary_mismatch
    from ..train.teacher import teacher_tokenizer_folder

    tokenizer_folder = teacher_tokenizer_folder(split_variant(teacher).base)
    student = _student_folder(recipe)
    if tokenizer_folder is not None and student is not None:
        why = vocabulary_mismatch(student, tokenizer_folder, recipe.method, teacher)
        if why:
            raise WorkbenchError(why)
