"""Two eval runs on the same examples compared (docs/eval.md): the Eval pane's comparison and
``slmw eval diff A B``. The runs' files are read by ``results.py``.

- ``pair_runs``: two runs' examples paired by ``id``; which ones B fixed (failed in A, passed
  in B), which it broke, and the paired bootstrap 95% interval of each metric's mean
  difference B - A (``bootstrap.paired_difference``; perplexity's as a difference of ratios).
  Resampling the *pairs* (not each run on its own) is what makes the interval narrow enough to
  tell a real improvement from noise on the same examples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .results import (LOWER_IS_BETTER, PERPLEXITY, TASK, Prediction, latest, predictions_path, read_predictions,
                      read_report, report_path)

Outcome = Literal["fixed", "broken", "both_pass", "both_fail"]
OUTCOMES: tuple[Outcome, ...] = ("fixed", "broken", "both_fail", "both_pass")


# -- two runs on the same examples --------------------------------------------------------------
@dataclass(frozen=True)
class Pair:
    key: str
    """The example's id."""
    a: Prediction
    b: Prediction

    @property
    def outcome(self) -> Outcome:
        if self.a.passed != self.b.passed:
            return "fixed" if self.b.passed else "broken"
        return "both_pass" if self.a.passed else "both_fail"

    @property
    def task_change(self) -> float | None:
        if self.a.task is None or self.b.task is None:
            return None
        return self.b.task - self.a.task


@dataclass(frozen=True)
class MetricDifference:
    metric: str
    a: float
    b: float
    difference: float
    """``b - a`` (for perplexity: of the corpus perplexities)."""
    low: float
    high: float
    n: int

    @property
    def significant(self) -> bool:
        """The 95% interval excludes no change."""
        return self.low > 0 or self.high < 0

    @property
    def better(self) -> bool | None:
        """Whether B is better than A beyond noise (None when the interval holds 0)."""
        if not self.significant:
            return None
        return (self.difference < 0) if self.metric in LOWER_IS_BETTER else (self.difference > 0)


@dataclass
class EvalDiff:
    pairs: list[Pair]
    only_a: list[str]
    """Keys of A's examples B lacks (different data, or B still running)."""
    only_b: list[str]
    metrics: dict[str, MetricDifference]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for pair in self.pairs:
            counts[pair.outcome] += 1
        return counts

    def with_outcome(self, *outcomes: str) -> list[Pair]:
        return [p for p in self.pairs if p.outcome in outcomes]


def pair_runs(a: Iterable[Prediction], b: Iterable[Prediction], *, samples: int = 1000, seed: int = 0) -> EvalDiff:
    """A's and B's examples paired by id, in A's data order, with each metric's paired bootstrap
    interval of B - A (``samples`` resamples of the pairs, seeded: the same seed, the same interval)."""
    keyed_a, keyed_b = {r.id: r for r in latest(a)}, {r.id: r for r in latest(b)}
    pairs = [Pair(key, row, keyed_b[key]) for key, row in keyed_a.items() if key in keyed_b]
    metrics: dict[str, MetricDifference] = {}
    for metric in _metric_names(pairs):
        difference = (_perplexity_difference(pairs, samples, seed) if metric == PERPLEXITY
                      else _mean_difference(pairs, metric, samples, seed))
        if difference is not None:
            metrics[metric] = difference
    return EvalDiff(pairs, [k for k in keyed_a if k not in keyed_b], [k for k in keyed_b if k not in keyed_a], metrics)


def _metric_names(pairs: Sequence[Pair]) -> list[str]:
    names = dict.fromkeys([TASK])
    for pair in pairs:
        names.update(dict.fromkeys(pair.a.scores))
        names.update(dict.fromkeys(pair.b.scores))
    return list(names)


def _mean_difference(pairs: Sequence[Pair], metric: str, samples: int, seed: int) -> MetricDifference | None:
    from .bootstrap import paired_difference

    both = [(p.a.score(metric), p.b.score(metric)) for p in pairs]
    both = [(x, y) for x, y in both if x is not None and y is not None]
    if not both:
        return None
    a, b = [x for x, _ in both], [y for _, y in both]
    d = paired_difference(a, b, samples=samples, seed=seed)
    assert d is not None
    return MetricDifference(metric, sum(a) / len(a), sum(b) / len(b), d.mean, d.low, d.high, d.n)


def _perplexity_difference(pairs: Sequence[Pair], samples: int, seed: int) -> MetricDifference | None:
    """Corpus perplexity exp(sum NLL / sum tokens) of each run, over the pairs both scored."""
    from .bootstrap import perplexity_difference

    rows = [(p.a.nll, p.a.ref_tokens, p.b.nll, p.b.ref_tokens) for p in pairs]
    rows = [r for r in rows if None not in r and r[1] and r[3]]  # type: ignore[operator]
    if not rows:
        return None
    nll_a, tok_a, nll_b, tok_b = (list(col) for col in zip(*rows))
    d = perplexity_difference(nll_a, tok_a, nll_b, tok_b, samples=samples, seed=seed)  # type: ignore[arg-type]
    if d is None:
        return None
    ppl_a = math.exp(sum(nll_a) / sum(tok_a))  # type: ignore[arg-type]
    return MetricDifference(PERPLEXITY, ppl_a, ppl_a + d.mean, d.mean, d.low, d.high, d.n)


def diff_runs(run_a: Path, run_b: Path, *, samples: int | None = None, seed: int | None = None) -> EvalDiff:
    """Two eval runs' directories compared (``slmw eval diff A B``); the bootstrap settings
    default to A's report's (else 1000 resamples, seed 0)."""
    report = read_report(report_path(run_a))
    settings = report.settings if report is not None else {}
    return pair_runs(read_predictions(predictions_path(run_a)).rows, read_predictions(predictions_path(run_b)).rows,
                     samples=samples or int(settings.get("bootstrap_samples") or 1000),
                     seed=seed if seed is not None else int(settings.get("seed") or 0))
