"""The distill job on the tiny model: every phase, the card, resume after kill -9, refusals at launch."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from slm_workbench.config.distill import DistillRecipe
from slm_workbench.engine.distill.layout import read_card, read_state
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.runs import launcher
from slm_workbench.engine.runs.run import Run
from slm_workbench.engine.runs.store import RunStore
from tests.engine.eval.conftest import ROWS
from tests.helpers import write_jsonl

PROMPTS = [{"messages": [{"role": "user", "content": f"Where does user {i} live?"},
                         {"role": "assistant", "content": f"User {i} lives in Oslo."}]} for i in range(6)]


@pytest.fixture
def distill_recipe(tiny_model_dir: Path, tmp_path: Path):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", PROMPTS)
    heldout = write_jsonl(tmp_path / "heldout.jsonl", ROWS)

    def make(**overrides) -> DistillRecipe:
        base = dict(
            teacher=str(tiny_model_dir), teacher_variant=None,
            generate={"prompts": str(prompts), "max_new_tokens": 16, "temperature": 1.0, "seed": 3,
                      "filters": {"drop_truncated": False}},  # a random model greedily repeats a blank token
            student={"keep_layers": 1},
            train={"max_steps": 4, "batch_size": 2, "max_length": 64, "save_steps": 2, "eval_fraction": 0.0,
                   "learning_rate": 1e-3, "threads": 1, "logging_steps": 1},
            card={"data": str(heldout), "examples": 3, "variant": "torch", "threads": 1, "new_tokens": 8,
                  "decode_runs": 1, "rounds": 1},
        )
        base.update(overrides)
        return DistillRecipe.model_validate(base)

    return make


def wait_until(predicate, timeout: float = 300.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.timeout(600)
def test_distillation_runs_every_phase_and_writes_the_card(distill_recipe, tiny_model_dir: Path, tmp_path: Path,
                                                           capsys) -> None:
    from slm_workbench.cli.main import main
    from slm_workbench.config.loading import dump_recipe

    path = tmp_path / "distill.yaml"
    recipe = distill_recipe()
    recipe.card.variant = "int4"  # measured as a 4-bit deployment: the export phase builds both int4 variants
    path.write_text(dump_recipe(recipe), encoding="utf-8")
    code = main(["distill", str(path), "--json"])  # the command a user types; waits, prints the card
    printed = json.loads(capsys.readouterr().out)
    run_dir = RunStore().root / printed["id"]
    assert code == 0 and printed["state"] == "done", (run_dir / "worker.log").read_text()[-3000:]
    assert printed["card"] == read_card(run_dir) and [p["name"] for p in printed["phases"]][0] == "teacher"
    state = read_state(run_dir)
    assert {p.name: p.state for p in state.phases} == {
        "teacher": "skipped", "generate": "done", "student": "done", "train": "done", "export": "done",
        "card": "done"}
    generate, train = Run.get(state.run_of("generate")), Run.get(state.run_of("train"))
    assert generate.stage == "data.generate" and train.stage == "train"
    rows = [json.loads(line) for line in (Path(state.generated) / "rows.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(f"p{i}-s0" for i in range(6))  # every prompt, once
    student = Path(state.student["spec"])
    assert json.loads((student / "config.json").read_text())["num_hidden_layers"] == 1
    assert train.recipe().model == str(student) and train.recipe().data.endswith("data.jsonl")
    assert train.recipe().method == "full"  # a cut student trains every weight unless told otherwise
    card = read_card(run_dir)
    assert card is not None and card["method"] == "sft" and card["train_run"] == train.id
    for key in ("speedup", "memory_ratio", "accuracy_retained"):
        assert key in card
    assert card["speedup"] == round(card["student"]["decode_tok_s"] / card["teacher"]["decode_tok_s"], 4)
    assert card["teacher"]["layers"] == 2 and card["student"]["layers"] == 1
    assert card["variant"] == "int4" and card["student"]["spec"] == f"{train.id}:int4"
    for side in (card["teacher"], card["student"]):  # the export engine's int4: the tied embedding quantized too
        assert (side["variant"], side["precision"], side["embeddings"], side["backend"]) == ("int4", "int4",
                                                                                             "quantized", "onnx")
        assert side["model_rss_mb"] > 0 and side["answer_perplexity"] > 0
    assert (train.artifacts_dir / "onnx-int4" / "genai_config.json").is_file()
    assert card["answer_perplexity_comparable"] is True  # a cut copies its teacher's tokenizer
    assert card["teacher"]["tokenizer"] == card["student"]["tokenizer"] == f"{tiny_model_dir.name} tokenizer"
    assert (run_dir / "artifacts" / "card.md").is_file()


@pytest.mark.timeout(600)
def test_a_killed_distillation_resumes_from_its_phase_with_the_same_child_runs(distill_recipe) -> None:
    recipe = distill_recipe(train={"max_steps": 40, "batch_size": 2, "max_length": 64, "save_steps": 5,
                                   "eval_fraction": 0.0, "learning_rate": 1e-3, "threads": 1},
                            method="gkd")  # logit KD: the teacher's PyTorch weights in the training run
    run_dir = launcher.start_recipe(recipe, title="distill kill test")
    wait_until(lambda: read_state(run_dir).phase("train").run is not None, what="the training phase")
    store = RunStore(run_dir.parent)
    before = read_state(run_dir)
    os.killpg(store.info(run_dir).status.pgid, signal.SIGKILL)  # the distillation dies; its child trains on
    wait_until(lambda: store.info(run_dir).state == "interrupted", what="the run read as interrupted")
    launcher.resume_job(store.info(run_dir))
    info = launcher.wait_for(run_dir, timeout=540)
    assert info.state == "done", (run_dir / "worker.log").read_text()[-3000:]
    after = read_state(run_dir)
    assert after.run_of("generate") == before.run_of("generate")  # not generated again
    assert after.run_of("train") == before.run_of("train")  # the same training run, followed or resumed
    card = read_card(run_dir)
    assert card is not None and card["method"] == "gkd"
    train = Run.get(after.run_of("train")).recipe()
    assert train.distill.method == "gkd" and train.distill.teacher == recipe.teacher


def test_launch_refuses_a_student_with_as_many_layers_as_the_teacher(distill_recipe) -> None:
    with pytest.raises(WorkbenchError, match="keep_layers 2 is not below the teacher's 2 layers"):
        launcher.start_recipe(distill_recipe(student={"keep_layers": 2}))


def test_launch_refuses_what_an_endpoint_teacher_cannot_give(distill_recipe) -> None:
    with pytest.raises(WorkbenchError, match="no weights to cut"):
        launcher.start_recipe(distill_recipe(teacher="http://127.0.0.1:9/v1"))
    with pytest.raises(WorkbenchError, match="gkd needs the teacher's logits"):
        launcher.start_recipe(distill_recipe(teacher="http://127.0.0.1:9/v1", student={"model": "x"}, method="gkd"))


def test_launch_refuses_logit_kd_across_vocabularies(distill_recipe, tiny_model_dir: Path,
                                                     other_vocab_model_dir: Path) -> None:
    with pytest.raises(WorkbenchError, match="needs a shared vocabulary — use method sft"):
        launcher.start_recipe(distill_recipe(student={"model": str(other_vocab_model_dir)}, method="gkd"))
    assert not RunStore().list()  # refused before the teacher answered anything
    trained_first = distill_recipe(teacher=None, teacher_recipe={"model": str(tiny_model_dir), "data": "slmw:demo"},
                                   student={"model": str(other_vocab_model_dir)}, method="distillation")
    with pytest.raises(WorkbenchError, match="needs a shared vocabulary — use method sft"):
        launcher.start_recipe(trained_first)  # the demo's shape: refused before the teacher is trained
    assert not RunStore().list()


def test_launch_refuses_missing_prompts(distill_recipe, tmp_path: Path) -> None:
    with pytest.raises(WorkbenchError, match="no such prompts file or dataset: .*nope.jsonl"):
        launcher.start_recipe(distill_recipe(generate={"prompts": str(tmp_path / "nope.jsonl")}))
    assert not RunStore().list()  # nothing started


def test_the_recipe_names_one_teacher_and_one_student() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="exactly one of teacher"):
        DistillRecipe.model_validate({"generate": {"prompts": "p"}, "student": {"keep_layers": 1}})
    with pytest.raises(ValidationError, match="train.model is set by the distillation"):
        DistillRecipe.model_validate({"teacher": "t", "generate": {"prompts": "p"}, "student": {"keep_layers": 1},
                                      "train": {"model": "x"}})


def test_the_launch_check_takes_a_teacher_recipe(distill_recipe, tiny_model_dir: Path) -> None:
    from slm_workbench.engine.distill.stage import check as check_distill

    recipe = distill_recipe(teacher=None, teacher_recipe={"model": str(tiny_model_dir), "data": "slmw:demo"})
    assert not check_distill(recipe).refusals


def test_launch_warns_of_a_student_larger_than_the_teacher_and_starts_all_the_same(
        distill_recipe, tiny_model_dir: Path, tiny_deep_model_dir: Path) -> None:
    from slm_workbench.engine.distill.stage import check as check_distill
    from slm_workbench.engine.distill.student import model_cost

    recipe = distill_recipe(student={"model": str(tiny_deep_model_dir)})  # 6 layers learning from 2
    needs = check_distill(recipe)
    small, large = model_cost(tiny_model_dir).params / 1e6, model_cost(tiny_deep_model_dir).params / 1e6
    assert not needs.refusals and len(needs.warnings) == 1
    assert f"{large:.1f}M parameters, more than the teacher's {small:.1f}M" in needs.warnings[0]
    smaller = distill_recipe(teacher=str(tiny_deep_model_dir), student={"model": str(tiny_model_dir)})
    assert not check_distill(smaller).warnings


def test_a_card_variant_that_no_export_builds_is_refused_in_one_line(distill_recipe) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="'int5' is not an export preset the card can build"):
        distill_recipe(card={"variant": "int5"})
    assert distill_recipe(card={"variant": "int4"}).card.variant == "int4"


def test_the_student_phase_warns_of_a_larger_student_once(distill_recipe, tiny_model_dir: Path,
                                                          tiny_deep_model_dir: Path) -> None:
    """Sizes unknown at launch (a model the job prepares) are checked again in the student phase; a
    warning the launch check already wrote is not written twice (a resumed phase neither)."""
    from slm_workbench.config.loading import dump_recipe
    from slm_workbench.engine.distill.stage import Distillation
    from slm_workbench.engine.runs.context import RunContext

    recipe = distill_recipe(student={"model": str(tiny_deep_model_dir)})
    run_dir = RunStore().create("distill", dump_recipe(recipe))
    job = Distillation(recipe, RunContext(run_dir))
    job.state.teacher = {"spec": str(tiny_model_dir), "answers": str(tiny_model_dir), "pytorch": str(tiny_model_dir)}
    detail = job.student()
    warnings = [e.message for e in Run(run_dir).events() if e.kind == "warning"]
    assert len(warnings) == 1 and "more than the teacher's" in warnings[0] and warnings[0] in detail
    job.student()  # again (a resume): said once
    assert [e.message for e in Run(run_dir).events() if e.kind == "warning"] == warnings
    smaller = distill_recipe(teacher=str(tiny_deep_model_dir), student={"model": str(tiny_model_dir)})
    job = Distillation(smaller, RunContext(RunStore().create("distill", dump_recipe(smaller))))
    job.state.teacher = {"spec": "t", "answers": "t", "pytorch": str(tiny_deep_model_dir)}
    assert job.student() == f"student model {tiny_model_dir}"


def test_launch_refuses_a_student_model_that_names_nothing(distill_recipe) -> None:
    with pytest.raises(WorkbenchError, match="student.model: no model or run named 'no-such-model'"):
        launcher.start_recipe(distill_recipe(student={"model": "no-such-model"}))
    assert not RunStore().list()  # refused before the teacher answered anything


def test_a_run_that_produced_a_model_is_a_student_the_pane_can_offer(distill_recipe, tiny_model_dir: Path,
                                                                     tiny_deep_model_dir: Path) -> None:
    """The Distill pane's student picker lists runs with a model: the launch check sizes such a run, the
    estimate reads it, and the student phase trains from its model folder."""
    import shutil

    from slm_workbench.engine.distill.estimate import estimate
    from slm_workbench.engine.distill.stage import check as check_distill
    from slm_workbench.engine.distill.stage import student_spec
    from slm_workbench.engine.distill.student import model_cost

    run_dir = RunStore().create("train", "stage: train\n")
    shutil.copytree(tiny_deep_model_dir, run_dir / "artifacts" / "model")
    recipe = distill_recipe(student={"model": run_dir.name})
    assert student_spec(run_dir.name, log=lambda line: None) == str(run_dir / "artifacts" / "model")
    assert student_spec(str(tiny_model_dir)) == str(tiny_model_dir)  # a model: as given
    needs = check_distill(recipe)  # 6 layers (the run's model) learning from 2: larger, warned
    assert len(needs.warnings) == 1 and "more than the teacher's" in needs.warnings[0]
    found = estimate(recipe, available=None)
    assert found.student == model_cost(tiny_deep_model_dir) and found.larger and "LARGER" in found.line()


def test_the_shipped_demo_distils_across_families_and_the_cut_stays_an_option() -> None:
    """distill-demo: a Gemma 3 270M LoRA teacher (its recipe shipped, with the Gemma template) and a
    pretrained SmolLM2 student trained on its answers; distill-demo-cut keeps the same-family cut."""
    from slm_workbench.config.loading import load_recipe
    from slm_workbench.config.train import TrainRecipe
    from slm_workbench.engine.distill.stage import check as check_distill

    demo = load_recipe(Path("distill-demo"))
    assert isinstance(demo, DistillRecipe)
    teacher = demo.teacher_recipe or {}
    assert (teacher["model"], teacher["chat_template"], teacher["data"]) == ("gemma-3-270m", "gemma", "slmw:demo")
    assert TrainRecipe.model_validate(teacher).method == "lora"
    assert (demo.student.model, demo.student.keep_layers, demo.method) == ("smollm2-135m-instruct", None, "sft")
    assert (demo.teacher_variant, demo.card.data, demo.card.examples) == ("int8", "slmw:demo-eval", 64)
    assert demo.generate.filters.checker == "slmw:check_extraction"
    needs = check_distill(demo)  # an empty home: nothing prepared, nothing refused, no size warning
    assert not needs.refusals and not needs.warnings
    cut = load_recipe(Path("distill-demo-cut"))
    assert isinstance(cut, DistillRecipe)
    assert (TrainRecipe.model_validate(cut.teacher_recipe).model, cut.student.keep_layers) == ("smollm2-135m-instruct", 10)


def test_the_card_data_defaults_to_the_eval_split_the_teacher_run_trained_on(distill_recipe, tmp_path: Path,
                                                                              tiny_model_dir: Path) -> None:
    """Without card.data the teacher's run (found by the one model-or-run lookup, ``model_source.find_run``)
    gives its dataset; a teacher that is a plain model names none: one line."""
    from slm_workbench.config.loading import dump_recipe
    from slm_workbench.engine.distill.stage import Distillation
    from slm_workbench.engine.runs.context import RunContext

    prepared = tmp_path / "prepared"
    prepared.mkdir()
    teacher_run = RunStore().create("train", "stage: train\nmodel: m\n")
    (teacher_run / "artifacts").mkdir(parents=True, exist_ok=True)
    (teacher_run / "artifacts" / "lineage.json").write_text(json.dumps({"data": {"folder": str(prepared)}}))
    recipe = distill_recipe(card={"examples": 3, "variant": "torch"})
    job = Distillation(recipe, RunContext(RunStore().create("distill", dump_recipe(recipe))))
    job.state.teacher = {"answers": f"{teacher_run.name}:int8"}
    assert job.card_data() == prepared
    job.state.teacher = {"answers": str(tiny_model_dir)}
    with pytest.raises(WorkbenchError, match="the card needs held-out examples and the teacher names none"):
        job.card_data()
