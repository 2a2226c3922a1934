"""Students and logit distillation through the real train stage, on tiny random models.

The cut student trains like any model; GKD (off-policy in CI, one quick on-policy run) and TRL's
DistillationTrainer run a few steps with metrics, checkpoints and stop -> resume as for SFT; a
teacher with another vocabulary, or GOLD, is one clear line before any job starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_workbench.engine.distill.student import cut_layers
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.runs.launcher import resume_job, start_recipe, stop_job
from slm_workbench.engine.runs.store import RunStore, read_events
from tests.helpers import read_jsonl, wait_for_state, wait_until


@pytest.fixture(scope="module")
def student_dir(tiny_deep_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cut_layers(tiny_deep_model_dir, 2, tmp_path_factory.mktemp("student") / "student").folder


def losses(run_dir: Path) -> list[float]:
    return [row["loss"] for row in read_jsonl(run_dir / "metrics.jsonl") if "loss" in row]


def done(run_dir: Path, timeout: float = 240) -> None:
    info = wait_for_state(run_dir, {"done", "failed", "cancelled"}, timeout=timeout)
    assert info.state == "done", (run_dir / "worker.log").read_text()[-3000:]


def test_cut_student_learns_by_gkd_writes_metrics_and_resumes_after_stop(tiny_recipe, student_dir: Path,
                                                                          tiny_deep_model_dir: Path) -> None:
    """The keep_layers student trains through the real train stage, distilled from the teacher it was cut from."""
    recipe = tiny_recipe(model=str(student_dir), method="full", max_steps=24, batch_size=2, save_steps=2, eval_steps=100,
                         eval_fraction=0.1, distill={"teacher": str(tiny_deep_model_dir), "method": "gkd", "lmbda": 0.0})
    run_dir = start_recipe(recipe, title="gkd")
    wait_until(lambda: any(e.kind == "checkpoint" for e in read_events(run_dir)), timeout=240, what="a checkpoint")
    stop_job(RunStore().info(run_dir))
    info = wait_for_state(run_dir, {"cancelled", "done", "failed"}, timeout=120)
    assert info.state == "cancelled", (run_dir / "worker.log").read_text()[-3000:]
    stopped_at = max(row["step"] for row in read_jsonl(run_dir / "metrics.jsonl"))
    assert "logit distillation: gkd" in (run_dir / "worker.log").read_text()
    resume_job(RunStore().info(run_dir))
    done(run_dir, timeout=300)
    rows = read_jsonl(run_dir / "metrics.jsonl")
    assert max(r["step"] for r in rows) == 24 and stopped_at < 24
    assert any("eval_loss" in r for r in rows) and all(x == x and x >= 0 for x in losses(run_dir))  # JSD: finite, >= 0
    assert len([e for e in read_events(run_dir) if e.kind == "started"]) == 2
    assert (run_dir / "artifacts" / "model" / "model.safetensors").is_file()


def test_gkd_on_policy_with_a_lora_student_and_a_lora_run_as_teacher(tiny_recipe, tiny_model_dir: Path) -> None:
    teacher_run = start_recipe(tiny_recipe(max_steps=2, eval_fraction=0.0, save_steps=2), title="teacher")
    done(teacher_run)
    assert not (teacher_run / "artifacts" / "merged").exists()
    recipe = tiny_recipe(model=str(tiny_model_dir), max_steps=3, eval_fraction=0.0, save_steps=3,
                         distill={"teacher": teacher_run.name, "method": "gkd", "lmbda": 1.0, "max_new_tokens": 4})
    run_dir = start_recipe(recipe, title="gkd on-policy")
    done(run_dir)
    assert len(losses(run_dir)) == 3
    assert (teacher_run / "artifacts" / "merged" / "model.safetensors").is_file()  # the teacher run merged once
    assert (run_dir / "artifacts" / "adapter" / "adapter_model.safetensors").is_file()


def test_distillation_trainer_runs_a_few_steps(tiny_recipe, student_dir: Path, tiny_deep_model_dir: Path) -> None:
    recipe = tiny_recipe(model=str(student_dir), method="full", max_steps=3, eval_fraction=0.0, save_steps=3,
                         distill={"teacher": str(tiny_deep_model_dir), "method": "distillation", "max_new_tokens": 4})
    run_dir = start_recipe(recipe, title="distillation")
    done(run_dir)
    rows = read_jsonl(run_dir / "metrics.jsonl")
    assert len([r for r in rows if "loss" in r]) == 3 and any("tokens_per_s" in r for r in rows)
    assert any(e.kind == "checkpoint" for e in read_events(run_dir))


def test_another_vocabulary_is_one_clear_line_before_the_job(tiny_recipe, other_vocab_model_dir: Path,
                                                             tiny_model_dir: Path) -> None:
    recipe = tiny_recipe(method="full", distill={"teacher": str(other_vocab_model_dir), "method": "gkd"})
    with pytest.raises(WorkbenchError) as err:
        start_recipe(recipe, title="mismatch")
    message = str(err.value)
    assert "300 tokens" in message and "49152" in message and "method sft" in message and "gold" in message
    assert "\n" not in message
    assert RunStore().list() == []
    from slm_workbench.engine.train.kd import check_teacher

    with pytest.raises(WorkbenchError, match="300 tokens"):  # the job's own check, before the weights load
        check_teacher(recipe, tiny_model_dir, other_vocab_model_dir)


def test_same_size_but_remapped_vocabulary_is_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    import json
    import shutil

    from slm_workbench.engine.train.kd import vocabulary_mismatch

    other = tmp_path / "teacher"
    shutil.copytree(tiny_model_dir, other)
    data = json.loads((other / "tokenizer.json").read_text())
    vocab = data["model"]["vocab"]
    a, b = "hello", "world"
    vocab[a], vocab[b] = vocab[b], vocab[a]
    (other / "tokenizer.json").write_text(json.dumps(data))
    message = vocabulary_mismatch(tiny_model_dir, other, "distillation")
    assert message and "2 of them map to other ids" in message
    assert vocabulary_mismatch(tiny_model_dir, tiny_model_dir, "gkd") is None


def test_gold_distils_across_tokenizers(tiny_recipe, tiny_model_dir: Path, other_vocab_model_dir: Path) -> None:
    recipe = tiny_recipe(model=str(tiny_model_dir), method="full", max_steps=2, eval_fraction=0.0, save_steps=2,
                         distill={"teacher": str(other_vocab_model_dir), "method": "gold", "max_new_tokens": 4})
    run_dir = start_recipe(recipe, title="gold")  # no vocabulary refusal for gold
    done(run_dir)
    assert "ULD loss across tokenizers" in (run_dir / "worker.log").read_text()
    assert len(losses(run_dir)) == 2 and all(x == x for x in losses(run_dir))
    assert (run_dir / "artifacts" / "model" / "model.safetensors").is_file()


def test_memory_estimate_counts_the_teacher(tiny_recipe, student_dir: Path, tiny_deep_model_dir: Path) -> None:
    from slm_workbench.engine.train.memory import estimate_memory

    plain = estimate_memory(tiny_recipe(model=str(student_dir), method="full"), student_dir, device="cpu")
    kd = estimate_memory(tiny_recipe(model=str(student_dir), method="full",
                                     distill={"teacher": str(tiny_deep_model_dir)}), student_dir, device="cpu")
    assert plain.teacher == 0 and kd.teacher_params > 0
    # its fp32 weights, plus at least its logits over the batch
    assert kd.teacher > kd.teacher_params * 4 + 4 * 64 * 49152 * 4
    assert kd.total == pytest.approx(plain.total + kd.teacher)
    assert any(line.startswith("teacher") for line in kd.lines())


def _metaspace_teacher(other_vocab_model_dir: Path, folder: Path) -> Path:
    """The other-vocabulary teacher with a SentencePiece-style (Metaspace) tokenizer, as Gemma's is."""
    import shutil

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    shutil.copytree(other_vocab_model_dir, folder)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    backend = Tokenizer(models.BPE(unk_token=None, byte_fallback=True))
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Metaspace()
    text = ["Where does user 1 live? User 1 lives in Oslo.", "The quick brown fox jumps over the lazy dog."] * 20
    backend.train_from_iterator(text, trainers.BpeTrainer(vocab_size=300, special_tokens=specials))
    old = AutoTokenizer.from_pretrained(other_vocab_model_dir)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>", bos_token="<|im_start|>",
                                        pad_token="<|endoftext|>")
    tokenizer.chat_template = old.chat_template
    assert len(tokenizer) <= len(old)  # the model's embedding has rows for every id
    tokenizer.save_pretrained(folder)
    return folder


def test_gold_takes_positional_uld_when_a_tokenizer_is_not_byte_level(
        tiny_recipe, tiny_model_dir: Path, other_vocab_model_dir: Path, tmp_path: Path) -> None:
    """Gemma's SentencePiece tokenizer against SmolLM2's ByteLevel BPE: TRL's byte-aligned (extended) ULD
    raises NotImplementedError after both models load; the paper's positional ULD trains."""
    from transformers import AutoTokenizer

    from slm_workbench.engine.train.kd import byte_level_pair

    teacher = _metaspace_teacher(other_vocab_model_dir, tmp_path / "sp-teacher")
    student = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert byte_level_pair(student, other_vocab_model_dir) and not byte_level_pair(student, teacher)
    recipe = tiny_recipe(model=str(tiny_model_dir), method="full", max_steps=2, eval_fraction=0.0, save_steps=2,
                         distill={"teacher": str(teacher), "method": "gold", "max_new_tokens": 4})
    run_dir = start_recipe(recipe, title="gold sp")
    done(run_dir)
    assert "positional ULD: a tokenizer is not ByteLevel BPE" in (run_dir / "worker.log").read_text()
    assert len(losses(run_dir)) == 2 and all(x == x for x in losses(run_dir))
