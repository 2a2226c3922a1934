"""Per-example metrics: SQuAD normalisation, F1, ROUGE-L, JSON extraction and fields, the task score."""

from __future__ import annotations

import math

import pytest

from slm_workbench.engine.eval import metrics as m


def test_exact_match_normalises_case_punctuation_and_articles() -> None:
    assert m.exact_match("The capital is Paris.", "capital is paris") == 1.0
    assert m.exact_match("Paris", "Lyon") == 0.0


def test_token_f1_counts_overlapping_words_once_per_occurrence() -> None:
    assert m.token_f1("paris paris", "paris") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert m.token_f1("", "") == 1.0
    assert m.token_f1("", "paris") == 0.0


def test_rouge_l_is_the_longest_common_subsequence_f_measure() -> None:
    assert m.rouge_l("the cat sat on the mat", "the cat sat on the mat") == pytest.approx(1.0)
    partial = m.rouge_l("the cat sat", "the cat sat on the mat")
    assert 0.5 < partial < 1.0  # LCS 3 of 3 and 6 words: P=1, R=0.5 -> F=0.667
    assert partial == pytest.approx(2 / 3, abs=1e-6)


def test_extract_json_finds_fenced_and_embedded_objects() -> None:
    assert m.extract_json('```json\n{"a": 1}\n```') == (True, {"a": 1})
    assert m.extract_json('Sure! Here it is: {"a": 1} — done') == (True, {"a": 1})
    assert m.extract_json('{"a": 1') == (False, None)
    assert m.extract_json("no json here") == (False, None)


def test_json_fields_compare_values_by_type() -> None:
    ref = '{"name": "Ana Lima", "age": 30, "city": "Porto"}'
    answer = 'Here: {"name": "ana lima", "age": "30", "city": "Lisbon"}'
    scored = m.score_example(answer, ref)
    assert scored.fields == {"name": True, "age": True, "city": False}
    assert scored.scores["json_fields"] == pytest.approx(2 / 3)
    assert scored.scores["json_valid"] == 1.0
    assert scored.task == pytest.approx(2 / 3) and not scored.passed


def test_json_metrics_do_not_apply_to_text_references_and_task_is_f1() -> None:
    scored = m.score_example("11 + 29 = 40.", "11 + 29 = 40.")
    assert scored.scores["json_valid"] is None and scored.scores["json_fields"] is None
    assert scored.fields is None
    assert scored.task == 1.0 and scored.passed


def test_perplexity_is_exp_of_the_mean_reference_nll() -> None:
    scored = m.score_example("x", "y", ["perplexity"], nll=6.0, ref_tokens=3)
    assert scored.scores["perplexity"] == pytest.approx(math.exp(2.0))
    assert m.score_example("x", "y", ["perplexity"]).scores["perplexity"] is None


def test_an_unknown_metric_is_named() -> None:
    with pytest.raises(ValueError, match="bleu"):
        m.score_example("a", "b", ["bleu"])
