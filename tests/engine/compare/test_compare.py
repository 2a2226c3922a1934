"""Comparing the tiny model's variants with its PyTorch reference, in measuring subprocesses."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from slm_workbench.engine.compare.compare import REFERENCE_NAME, CompareSettings, compare_variants
from slm_workbench.engine.compare.evalset import HELDOUT_TEXT, EvalSet, build_evalset
from slm_workbench.engine.model_source import resolve_source

FAST = CompareSettings(new_tokens=16, decode_runs=2, perplexity_tokens=96, chunk=32, task_max_tokens=8)


def exploded_copy(folder, out):
    """A variant whose logits are scaled by 1e4: perplexity overflows, as a broken quantization's does."""
    import onnx
    from onnx import numpy_helper

    shutil.copytree(folder, out)
    model = onnx.load(str(out / "model.onnx"))
    for init in model.graph.initializer:
        if init.name.endswith("final_norm_layernorm.weight"):
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 1e4, init.name))
    for f in out.glob("model.onnx*"):
        f.unlink()
    onnx.save(model, str(out / "model.onnx"), save_as_external_data=True, location="model.onnx.data")
    return out


def test_heldout_text_is_our_own_two_thousand_tokens(tiny_model_dir):
    evalset = build_evalset(tiny_model_dir, None, perplexity_tokens=100_000)
    assert evalset.name == HELDOUT_TEXT.name and 1900 <= len(evalset.ppl_ids) <= 2600
    assert evalset.tasks == [] and len(evalset.prompt_ids) > 10


def test_eval_records_give_perplexity_text_and_tasks(tiny_model_dir, tmp_path):
    data = tmp_path / "eval.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"Name {i}?"}, {"role": "assistant", "content": f"Ana {i}"}]}
            for i in range(5)] + [{"prompt": "Two plus two?", "completion": "Four."}, {"text": "plain text row"}]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    evalset = build_evalset(tiny_model_dir, data, perplexity_tokens=10_000, task_examples=3)
    assert len(evalset.tasks) == 3 and evalset.tasks[0].reference == "Ana 0"
    saved = EvalSet.load(evalset.save(tmp_path / "e.json"))
    assert saved.ppl_ids == evalset.ppl_ids and saved.tasks[1].prompt_ids == evalset.tasks[1].prompt_ids


def test_the_shipped_demo_eval_is_disjoint_from_the_demo_training_file():
    from slm_workbench.demo import DEMO_DATASET, DEMO_EVAL
    from slm_workbench.engine.compare.evalset import _prompt_key

    def keys(path):
        return {_prompt_key(json.loads(line)["messages"][:-1]) for line in path.read_text().splitlines() if line.strip()}

    held_out = keys(DEMO_EVAL)
    assert len(held_out) == 64 and not held_out & keys(DEMO_DATASET)


def demo_run_data(tmp_path, eval_rows: int, leaked: list[dict] | None = None):
    """A prepared folder as a run trained on slmw:demo holds it: manifest, train split, a small eval split."""
    from slm_workbench.demo import DEMO_DATASET

    folder = tmp_path / "data"
    folder.mkdir()
    lines = DEMO_DATASET.read_text().splitlines()
    (folder / "manifest.json").write_text(json.dumps({"source": {"spec": "/elsewhere/demo_chat.jsonl",
                                                                 "sha256": __import__("hashlib").sha256(
                                                                     DEMO_DATASET.read_bytes()).hexdigest()}}))
    (folder / "train.jsonl").write_text("\n".join(lines[eval_rows:] + [json.dumps(r) for r in leaked or []]) + "\n")
    (folder / "eval.jsonl").write_text("\n".join(lines[:eval_rows]) + "\n")
    return folder


def test_a_run_with_too_few_eval_examples_is_judged_on_the_demos_held_out_set(tiny_model_dir, tmp_path):
    """The smoke LoRA's 17 held-out rows -> the task is scored on slmw:demo-eval, minus any prompt the run
    trained on, and the evalset says so."""
    from slm_workbench.demo import DEMO_EVAL
    from slm_workbench.engine.compare.evalset import heldout_tasks

    leaked = json.loads(DEMO_EVAL.read_text().splitlines()[3])
    data = demo_run_data(tmp_path, 17, [leaked])
    evalset = build_evalset(tiny_model_dir, data / "eval.jsonl", perplexity_tokens=200)
    assert 0 < len(evalset.tasks) <= 17 and not evalset.task_source
    ppl_before = list(evalset.ppl_ids)
    evalset = heldout_tasks(evalset, tiny_model_dir, data, 64)
    assert evalset.task_source == "slmw:demo-eval" and len(evalset.tasks) == 63
    assert leaked["messages"][-1]["content"] not in [t.reference for t in evalset.tasks[3:4]]
    assert "63 examples of slmw:demo-eval" in evalset.task_note and "1 that were are left out" in evalset.task_note
    assert evalset.ppl_ids == ppl_before  # perplexity stays on the run's own eval split
    saved = EvalSet.load(evalset.save(tmp_path / "e.json"))
    assert saved.task_source == "slmw:demo-eval"


def test_no_fallback_for_enough_examples_other_data_or_a_lowered_task_count(tiny_model_dir, tmp_path):
    from slm_workbench.engine.compare.evalset import heldout_tasks

    data = demo_run_data(tmp_path, 70)
    evalset = build_evalset(tiny_model_dir, data / "eval.jsonl", perplexity_tokens=200)
    assert len(evalset.tasks) >= 64 and heldout_tasks(evalset, tiny_model_dir, data, 64).task_source == ""
    small = build_evalset(tiny_model_dir, data / "eval.jsonl", perplexity_tokens=200, task_examples=8)
    assert heldout_tasks(small, tiny_model_dir, data, 8).task_source == ""  # the user asked for 8
    (data / "manifest.json").write_text(json.dumps({"source": {"spec": "/my/own.jsonl", "sha256": "0" * 64}}))
    few = build_evalset(tiny_model_dir, data / "eval.jsonl", perplexity_tokens=200, task_examples=64)
    few.tasks = few.tasks[:10]
    assert len(heldout_tasks(few, tiny_model_dir, data, 64).tasks) == 10  # not trained on shipped data: unchanged


def test_eval_data_can_be_named_by_its_shipped_alias(tiny_model_dir):
    evalset = build_evalset(tiny_model_dir, "slmw:demo-eval", perplexity_tokens=200)
    assert len(evalset.tasks) == 64 and evalset.name.endswith("demo_eval.jsonl")


def test_compare_measures_ranks_and_flags_broken(tiny_model_dir, tiny_variants, tmp_path):
    source = resolve_source(str(tiny_model_dir))
    variants = {name: tiny_variants[name] for name in ("fp32", "int4")}
    variants["exploded"] = exploded_copy(tiny_variants["fp32"], tmp_path / "exploded")
    data = tmp_path / "eval.jsonl"
    data.write_text("\n".join(json.dumps({"prompt": f"Say {w}", "completion": w}) for w in ("yes", "no")) + "\n")
    evalset = build_evalset(tiny_model_dir, data, perplexity_tokens=FAST.perplexity_tokens, task_examples=2)
    seen, measured, verdicts = [], {}, []
    report = compare_variants(source, variants, evalset=evalset, work_dir=tmp_path / "work", settings=FAST,
                              on_progress=lambda *a: seen.append(a), on_measured=measured.__setitem__,
                              on_verdict=lambda *a: verdicts.append(a))
    by = {v.name: v for v in report.variants}
    assert list(by) == [REFERENCE_NAME, "fp32", "int4", "exploded"]
    ref, fp32 = by[REFERENCE_NAME], by["fp32"]
    # same ids, same model: the ONNX fp32 perplexity equals PyTorch's to two decimals (relative here: ~vocab-sized)
    assert fp32.perplexity == pytest.approx(ref.perplexity, rel=1e-4)
    assert fp32.agreement["same_prefix"] == 16 and fp32.agreement["token_agreement"] == 1.0
    for v in (ref, fp32, by["int4"]):
        assert not v.broken, v
        assert v.size_mb > 0 and v.load_s >= 0 and v.peak_rss_mb > 30 and 0 < v.runtime_rss_mb < v.peak_rss_mb
        assert v.model_rss_mb == round(v.peak_rss_mb - v.runtime_rss_mb, 1)  # both ways: peak, and model only
        assert (v.rank is not None) == (v.why_not is None or v.why_not.startswith("slower than"))  # keeps quality
        assert v.decode_tok_s > 0 and v.ttft_s > 0 and len(v.decode_runs_tok_s) == 2
        assert v.task_score is not None and 0 <= v.task_score <= 1
    assert by["int4"].size_mb < fp32.size_mb
    assert ref.rank is None and ref.settings == "torch fp32" and by["int4"].settings.startswith("b32")
    assert by["exploded"].broken and by["exploded"].rank is None
    assert "NaN" in by["exploded"].broken_reason or "reference" in by["exploded"].broken_reason
    assert report.recommended in ("fp32", "int4")
    assert 10 < report.evalset["ppl_tokens"] <= FAST.perplexity_tokens and report.evalset["tasks"] == 2
    assert {phase for _, phase, _, _ in seen} >= {"loading", "perplexity", "decoding", "task"}
    assert list(measured) == list(by) and measured["fp32"]["perplexity"] == pytest.approx(fp32.perplexity)
    assert np.isfinite(ref.perplexity)
    # each model finished as it is measured (one round), the broken one judged at the end, as data
    assert verdicts[:4] == [(name, "measured", True, "") for name in by]
    assert verdicts[4:] == [("exploded", "broken", True, by["exploded"].broken_reason)]


def test_a_variant_that_cannot_load_is_broken_not_fatal(tiny_model_dir, tiny_variants, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_variants["int4"], bad)
    (bad / "model.onnx").write_bytes(b"not a model")
    source = resolve_source(str(tiny_model_dir))
    evalset = build_evalset(tiny_model_dir, None, perplexity_tokens=32)
    verdicts = []
    report = compare_variants(source, {"bad": bad}, evalset=evalset, work_dir=tmp_path / "w",
                              settings=CompareSettings(new_tokens=8, decode_runs=1, reference=False),
                              on_verdict=lambda *a: verdicts.append(a))
    (bad_result,) = report.variants
    assert bad_result.broken and bad_result.rank is None and "measuring bad failed" in bad_result.error
    assert report.recommended is None and report.reference is None
    assert verdicts == [("bad", "broken", True, "failed to load or run")]


def test_each_variant_reports_its_own_peak_rss_not_the_parents(tiny_model_dir, tiny_variants, tmp_path):
    """The measuring process is forked by a job that may have peaked high (merging, tokenizing): Linux's
    ru_maxrss carries that peak across fork and exec, so every variant used to report the same figure.
    VmHWM is the process's own: the int4 variant peaks below the fp32 one, and both below the parent."""
    from slm_workbench.engine.compare.measure import peak_rss_mb

    ballast = bytearray(1_500_000_000)
    ballast[::4096] = b"\1" * len(range(0, len(ballast), 4096))  # resident, so this process's peak is high
    source = resolve_source(str(tiny_model_dir))
    evalset = build_evalset(tiny_model_dir, None, perplexity_tokens=32)
    report = compare_variants(source, {name: tiny_variants[name] for name in ("fp32", "int4")}, evalset=evalset,
                              work_dir=tmp_path / "w", settings=CompareSettings(new_tokens=8, decode_runs=1,
                                                                                chunk=32, reference=False))
    del ballast
    by = {v.name: v.peak_rss_mb for v in report.variants}
    assert 30 < by["int4"] < by["fp32"] < 1500 < peak_rss_mb(), by


def test_a_cuda_variant_is_measured_on_cuda_only_where_genai_can(monkeypatch, tmp_path):
    """No GPU here: the CUDA path is the provider switch in the measuring spec, and the probe that gates it."""
    from slm_workbench.engine.measure import backends

    assert backends.cuda_measurable() is False  # the CPU build of ONNX Runtime GenAI on a machine without CUDA
    seen = {}

    class FakeConfig:
        def __init__(self, folder):
            seen["folder"] = folder

        def clear_providers(self):
            seen["cleared"] = True

        def append_provider(self, name):
            seen["provider"] = name

        def overlay(self, _text):
            raise RuntimeError("stop here: the provider is chosen")

    import onnxruntime_genai as og

    monkeypatch.setattr(og, "Config", FakeConfig)
    with pytest.raises(RuntimeError, match="provider is chosen"):
        backends.GenaiBackend(tmp_path, 1, "cuda")
    assert seen == {"folder": str(tmp_path), "cleared": True, "provider": "cuda"}
