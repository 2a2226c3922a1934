"""The card: the headline arithmetic, and teacher vs student measured for real (tiny ONNX variants)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.config.distill import CardSettings
from slm_workbench.engine.distill.card import (CardModel, CardSide, headline, measure_card, model_shape,
                                               summary_lines, to_markdown, write_card)
from slm_workbench.engine.distill.layout import read_card
from tests.engine.eval.conftest import ROWS
from tests.helpers import write_jsonl


def side(**values) -> CardSide:
    return CardSide(spec="x", backend="onnx", precision="int8", folder="/x", **values)


def test_headline_figures_are_the_student_over_the_teacher() -> None:
    teacher = side(decode_tok_s=50.0, peak_rss_mb=800.0, runtime_rss_mb=200.0, size_mb=270.0, params=134,
                   task_score=0.9, task_scores=[1.0, 1.0, 0.7, 0.9])
    student = side(decode_tok_s=150.0, peak_rss_mb=500.0, runtime_rss_mb=200.0, size_mb=135.0, params=67,
                   task_score=0.8, task_scores=[1.0, 0.8, 0.5, 0.9])
    figures = headline(teacher, student)
    assert figures["speedup"] == 3.0
    assert figures["inference_time_reduction"] == pytest.approx(2 / 3, abs=1e-4)
    assert figures["memory_ratio"] == 0.625 and figures["memory_reduction"] == 0.375
    assert figures["memory_ratio_model_only"] == 0.5  # (500-200) / (800-200): the runtime's fixed memory removed
    assert figures["accuracy_retained"] == pytest.approx(0.8 / 0.9, abs=1e-4)
    interval = figures["accuracy_retained_interval"]
    assert interval["low"] <= figures["accuracy_retained"] <= interval["high"] and interval["low"] < interval["high"]
    assert figures["size_ratio"] == 0.5 and figures["params_ratio"] == 0.5


def test_missing_measurements_give_no_figure_rather_than_a_wrong_one() -> None:
    figures = headline(side(decode_tok_s=None, task_score=0.0), side(decode_tok_s=10.0, task_score=0.5))
    assert figures["speedup"] is None and figures["inference_time_reduction"] is None
    assert figures["accuracy_retained"] is None  # a teacher scoring 0 has no accuracy to retain
    assert figures["memory_ratio"] is None


def test_model_shape_reads_parameters_and_layers_without_loading(tiny_model_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    params, layers = model_shape(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    assert layers == 2
    assert params == sum(p.numel() for p in model.parameters())  # tied head stored once
    assert model_shape(None) == (None, None)


@pytest.mark.timeout(600)
def test_teacher_and_student_measured_on_the_same_examples(tiny_model_dir: Path, tiny_variants: dict[str, Path],
                                                           tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "heldout.jsonl", ROWS)
    settings = CardSettings(examples=3, threads=1, new_tokens=8, decode_runs=1, rounds=2, variant="int4")
    teacher = CardModel("teacher", "tiny:fp32", "onnx", tiny_variants["fp32"], "fp32", tiny_model_dir)
    student = CardModel("student", "tiny:int4", "onnx", tiny_variants["int4"], "int4", tiny_model_dir)
    phases: list[tuple[str, str]] = []
    card = measure_card(teacher, student, eval_data=data, settings=settings, work_dir=tmp_path / "work",
                        on_progress=lambda role, phase, done, total: phases.append((role, phase)))
    t, s = card["teacher"], card["student"]
    for one in (t, s):
        assert one["decode_tok_s"] > 0 and one["peak_rss_mb"] > one["runtime_rss_mb"] > 0
        assert one["task_n"] == 3 and len(one["task_scores"]) == 3  # the 3 examples with references
        assert one["answer_perplexity"] > 0 and one["answer_tokens"] > 0 and one["layers"] == 2
        assert one["model_rss_mb"] == round(one["peak_rss_mb"] - one["runtime_rss_mb"], 1)
        assert len(one["decode_runs_tok_s"]) == 2  # one run in each of the 2 rounds
    assert card["speedup"] == round(s["decode_tok_s"] / t["decode_tok_s"], 4)
    assert card["memory_ratio"] == round(s["peak_rss_mb"] / t["peak_rss_mb"], 4)
    assert s["size_mb"] < t["size_mb"] and card["size_ratio"] < 1  # int4 weights are smaller than fp32
    assert {"teacher", "student"} == {role for role, _ in phases}
    assert any(phase == "speed round 2" for _, phase in phases)
    assert not any("tokenize differently" in n for n in card["notes"])  # the same tokenizer: comparable
    assert card["answer_perplexity_comparable"] is True and t["tokenizer"] == s["tokenizer"]
    assert (t["variant"], s["variant"]) == ("fp32", "int4") and s["embeddings"] == "quantized"
    path = write_card(card, tmp_path / "artifacts")
    assert json.loads(path.read_text())["speedup"] == card["speedup"]
    assert read_card(tmp_path) == card
    text = (tmp_path / "artifacts" / "card.md").read_text()
    assert "| decode tok/s |" in text and "accuracy retained" in text and "| model-only RSS MB |" in text
    lines = summary_lines(card)
    assert lines[0].startswith("accuracy retained") and "same tokenizer: comparable" in lines[-1]
    assert f"{s['model_rss_mb']:.0f} MB" in lines[2] and to_markdown(card).startswith("# Distillation card")


def test_examples_without_references_are_refused(tiny_model_dir: Path, tiny_variants: dict[str, Path],
                                                 tmp_path: Path) -> None:
    from slm_workbench.engine.errors import WorkbenchError

    data = tmp_path / "prose.txt"
    data.write_text("Some held-out prose without any question or answer in it. " * 20)
    model = CardModel("teacher", "tiny:fp32", "onnx", tiny_variants["fp32"], "fp32", tiny_model_dir)
    with pytest.raises(WorkbenchError, match="no examples with reference answers"):
        measure_card(model, model, eval_data=data, settings=CardSettings(), work_dir=tmp_path / "w")


@pytest.mark.timeout(600)
def test_across_tokenizers_each_answer_perplexity_is_labelled_and_said_not_comparable(
        tiny_model_dir: Path, other_vocab_model_dir: Path, tmp_path: Path) -> None:
    """Teacher (SmolLM2's 49k vocabulary) and student (300 BPE tokens of its own): the answer perplexities
    are each the one ``slmw eval`` reports for that model, labelled with its tokenizer, and said apart."""
    from slm_workbench.engine.eval.answerers import LocalAnswerer
    from slm_workbench.engine.eval.evaluate import EvalSettings, evaluate
    from slm_workbench.engine.eval.examples import load_examples

    data = write_jsonl(tmp_path / "heldout.jsonl", ROWS)
    settings = CardSettings(examples=3, threads=1, new_tokens=8, decode_runs=1, rounds=1, variant="torch")
    teacher = CardModel("teacher", str(tiny_model_dir), "torch", tiny_model_dir, "fp32", tiny_model_dir, "torch")
    student = CardModel("student", str(other_vocab_model_dir), "torch", other_vocab_model_dir, "fp32",
                        other_vocab_model_dir, "torch")
    card = measure_card(teacher, student, eval_data=data, settings=settings, work_dir=tmp_path / "work")
    t, s = card["teacher"], card["student"]
    assert card["answer_perplexity_comparable"] is False
    assert t["tokenizer"] == f"{tiny_model_dir.name} tokenizer" and s["tokenizer"] == f"{other_vocab_model_dir.name} tokenizer"
    assert t["vocab_size"] > 49000 and s["vocab_size"] < 400
    for side, folder in ((t, tiny_model_dir), (s, other_vocab_model_dir)):  # the evaluator's own figure
        answerer = LocalAnswerer("transformers", folder, label=str(folder))
        report = evaluate(answerer, load_examples(data, 3), tmp_path / f"eval-{folder.name}",
                          EvalSettings(metrics=("perplexity",)))
        assert side["answer_perplexity"] == pytest.approx(report["metrics"]["perplexity"]["mean"], rel=1e-3)
        assert side["answer_ppl_low"] <= side["answer_perplexity"] <= side["answer_ppl_high"]
    assert any("tokenize differently" in n and "not comparable" in n for n in card["notes"])
    line = summary_lines(card)[-1]
    assert f"({t['tokenizer']})" in line and f"({s['tokenizer']})" in line and "not comparable" in line
    text = to_markdown(card)
    assert "| counted in |" in text and "not comparable" in text


def test_an_int4_card_variant_is_the_built_int4_with_its_embeddings_quantized(
        tiny_model_dir: Path, tiny_variants: dict[str, Path], slmw_home: Path) -> None:
    """``card.variant: int4``: the card measures the model's int4 variant (the export engine's, found where
    ``MODEL:int4`` lives), records it ran as int4, and that the builder quantized the tied embedding too."""
    from slm_workbench.engine.distill.card import _side
    from slm_workbench.engine.distill.stage import card_model
    from tests.export_fixtures import link_variants

    link_variants(slmw_home, tiny_model_dir.name, {"int4": tiny_variants["int4"], "fp32": tiny_variants["fp32"]})
    model = card_model("student", str(tiny_model_dir), "int4")
    assert (model.backend, model.variant, model.precision) == ("onnx", "int4", "int4")
    assert model.folder.resolve() == tiny_variants["int4"].resolve() and model.spec == f"{tiny_model_dir}:int4"
    side = _side(model, None)
    assert (side.variant, side.embeddings, side.fp32_matrices) == ("int4", "quantized", [])
    fp32 = _side(card_model("teacher", str(tiny_model_dir), "fp32"), None)
    assert fp32.embeddings == "fp32" and fp32.size_mb > side.size_mb


def test_a_larger_student_is_a_note_with_both_sizes() -> None:
    from slm_workbench.engine.distill.card import card_notes, larger_student

    teacher, student = side(params=135_000_000), side(params=268_000_000)
    notes = card_notes(teacher, student, True)
    assert notes == ["the student (268.0M parameters) is larger than the teacher (135.0M): it is not expected to "
                     "be faster or smaller"]
    assert not card_notes(student, teacher, True)  # smaller: nothing to say
    assert "268.0M" in larger_student(135_000_000, 268_000_000) and "135.0M" in larger_student(135_000_000, 268_000_000)
    assert larger_student(None, 5) is None and larger_student(5, 5) is None


def test_answer_ids_stop_at_the_end_of_turn_when_it_is_not_the_eos(smollm2_tokenizer_dir: Path) -> None:
    """Gemma's template ends a turn with <end_of_turn>, not its EOS: the card scores the answer up to the end
    of turn (as ``slmw eval`` does), not the newline the template writes after it."""
    from types import SimpleNamespace

    from transformers import AutoTokenizer

    from slm_workbench.engine.distill.card import answer_pairs

    tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir)
    tokenizer.eos_token = "<|endoftext|>"  # the end of turn (<|im_end|>) is no longer the EOS
    examples = {"a": SimpleNamespace(messages=[{"role": "user", "content": "hi"}], reference="Hello there.")}
    [[prompt, ref]] = answer_pairs(tokenizer, examples, [SimpleNamespace(id="a")])
    assert tokenizer.decode(ref) == "Hello there.<|im_end|>" and prompt
