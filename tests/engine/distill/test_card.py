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
