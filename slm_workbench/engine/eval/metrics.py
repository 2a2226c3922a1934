"""Per-example metrics, and the task score every stage reports.

Text metrics follow SQuAD's normalisation (lowercase, punctuation and articles removed, one
space), so "Paris." and "paris" are an exact match. ROUGE-L comes from ``rouge-score``
directly (``evaluate.load`` would fetch a metric script from the hub). The JSON metrics read
the first JSON value in an answer (a fenced block, else the first ``{…}``/``[…]``), because
small models wrap JSON in prose and code fences.

A score of None means the metric does not apply to the example (JSON metrics on a reference
that is not a JSON object; perplexity without a local model); aggregates skip those.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

TEXT_METRICS = ("exact_match", "token_f1", "rouge_l")
JSON_METRICS = ("json_valid", "json_fields")
ALL_METRICS = (*TEXT_METRICS, *JSON_METRICS, "perplexity")

TASK = "task"
"""The one number: ``json_fields`` where the reference is a JSON object, ``token_f1`` otherwise."""
PASS_JSON = 1.0
PASS_TEXT = 0.5
"""An example passes when its task score reaches this (all fields right; half the words)."""

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """SQuAD's answer normalisation."""
    text = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize(prediction) == normalize(reference))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD word F1: multiset overlap of normalised words."""
    pred, ref = normalize(prediction).split(), normalize(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


_ROUGE: Any = None


def rouge_l(prediction: str, reference: str) -> float:
    global _ROUGE
    if _ROUGE is None:
        from rouge_score import rouge_scorer

        _ROUGE = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return float(_ROUGE.score(reference, prediction)["rougeL"].fmeasure)


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_json(text: str) -> tuple[bool, Any]:
    """(found, value): a fenced block, the whole text, or the first ``{``/``[`` that parses."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        candidate = candidate.strip()
        try:
            return True, json.loads(candidate)
        except ValueError:
            pass
        for start, ch in enumerate(candidate):
            if ch in "{[":
                try:
                    return True, decoder.raw_decode(candidate, start)[0]
                except ValueError:
                    continue
    return False, None


def reference_object(reference: str) -> dict[str, Any] | None:
    """The reference as a JSON object, or None when it is not one (JSON metrics do not apply)."""
    try:
        value = json.loads(reference)
    except ValueError:
        return None
    return value if isinstance(value, dict) and value else None


def _same_value(expected: Any, got: Any) -> bool:
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected is got
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(float(expected), float(got), rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(expected, (int, float)) and isinstance(got, str):  # "age": "65" for 65
        try:
            return math.isclose(float(expected), float(got.strip()))
        except ValueError:
            return False
    if isinstance(expected, str) and isinstance(got, str):
        return normalize(expected) == normalize(got)
    return expected == got


def field_matches(expected: dict[str, Any], prediction: str) -> dict[str, bool]:
    """Per reference key: does the answer's JSON object hold an equal value."""
    found, value = extract_json(prediction)
    got = value if found and isinstance(value, dict) else {}
    return {key: key in got and _same_value(expected[key], got[key]) for key in expected}


@dataclass
class ExampleScores:
    scores: dict[str, float | None]
    task: float
    passed: bool
    fields: dict[str, bool] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def score_example(prediction: str, reference: str, metrics: tuple[str, ...] | list[str] = ALL_METRICS, *,
                  nll: float | None = None, ref_tokens: int | None = None) -> ExampleScores:
    """Every metric asked for on one answer; ``nll``/``ref_tokens`` give perplexity when known."""
    scores: dict[str, float | None] = {}
    expected = reference_object(reference)
    fields = field_matches(expected, prediction) if expected is not None else None
    for name in metrics:
        if name == "exact_match":
            scores[name] = exact_match(prediction, reference)
        elif name == "token_f1":
            scores[name] = token_f1(prediction, reference)
        elif name == "rouge_l":
            scores[name] = rouge_l(prediction, reference)
        elif name == "json_valid":
            scores[name] = float(extract_json(prediction)[0]) if expected is not None else None
        elif name == "json_fields":
            scores[name] = (sum(fields.values()) / len(fields)) if fields is not None else None
        elif name == "perplexity":
            scores[name] = math.exp(nll / ref_tokens) if nll is not None and ref_tokens else None
        else:
            raise ValueError(f"unknown metric {name!r} (known: {', '.join(ALL_METRICS)})")
    if fields is not None:
        task = sum(fields.values()) / len(fields)
        passed = task >= PASS_JSON
    else:
        task = token_f1(prediction, reference)
        passed = task >= PASS_TEXT
    return ExampleScores(scores, task, passed, fields if "json_fields" in metrics else None)
