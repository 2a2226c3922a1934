"""Percentile bootstrap 95% intervals over examples (seeded: the same seed, the same interval).

With 16 examples one answer moves a mean by 6 points; the interval says so. Perplexity is a
ratio of sums (exp of total NLL over total tokens), so its resamples keep examples whole.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int

    def as_dict(self, digits: int = 4) -> dict[str, float | int]:
        return {"mean": round(self.mean, digits), "low": round(self.low, digits), "high": round(self.high, digits),
                "n": self.n}


def _indices(n: int, samples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(samples, n))


def mean_interval(values: Sequence[float], *, samples: int = 1000, seed: int = 0, level: float = 0.95) -> Interval | None:
    """The mean of ``values`` and its percentile bootstrap interval; None when there are none."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return None
    means = x[_indices(x.size, samples, seed)].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(float(x.mean()), float(low), float(high), int(x.size))


def perplexity_interval(nll: Sequence[float], tokens: Sequence[int], *, samples: int = 1000, seed: int = 0,
                        level: float = 0.95) -> Interval | None:
    """Corpus perplexity exp(sum nll / sum tokens), examples resampled whole."""
    s, t = np.asarray(nll, dtype=np.float64), np.asarray(tokens, dtype=np.float64)
    if s.size == 0 or t.sum() <= 0:
        return None
    idx = _indices(s.size, samples, seed)
    totals = t[idx].sum(axis=1)
    ppl = np.exp(s[idx].sum(axis=1) / np.where(totals > 0, totals, np.nan))
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(ppl, [tail, 100 - tail])
    return Interval(math.exp(float(s.sum() / t.sum())), float(low), float(high), int(s.size))


def paired_difference(a: Sequence[float], b: Sequence[float], *, samples: int = 1000, seed: int = 0,
                      level: float = 0.95) -> Interval | None:
    """Mean of b - a over paired examples, with the interval of resampling the pairs."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.size != y.size:
        raise ValueError(f"paired values differ in length: {x.size} and {y.size}")
    return mean_interval(y - x, samples=samples, seed=seed, level=level)


def paired_ratio(a: Sequence[float], b: Sequence[float], *, samples: int = 1000, seed: int = 0,
                 level: float = 0.95) -> Interval | None:
    """mean(b) / mean(a) over paired examples (a distilled student's share of its teacher's score),
    with the interval of resampling the pairs; None when there are none or mean(a) is 0."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.size != y.size:
        raise ValueError(f"paired values differ in length: {x.size} and {y.size}")
    if x.size == 0 or x.mean() == 0:
        return None
    idx = _indices(x.size, samples, seed)
    denominators = x[idx].mean(axis=1)
    ratios = y[idx].mean(axis=1) / np.where(denominators > 0, denominators, np.nan)
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(ratios, [tail, 100 - tail])
    return Interval(float(y.mean() / x.mean()), float(low), float(high), int(x.size))


def perplexity_difference(nll_a: Sequence[float], tokens_a: Sequence[int], nll_b: Sequence[float],
                          tokens_b: Sequence[int], *, samples: int = 1000, seed: int = 0,
                          level: float = 0.95) -> Interval | None:
    """Corpus perplexity of B minus A's over paired examples, pairs resampled whole."""
    na, ta, nb, tb = (np.asarray(x, dtype=np.float64) for x in (nll_a, tokens_a, nll_b, tokens_b))
    if na.size == 0 or ta.sum() <= 0 or tb.sum() <= 0:
        return None

    def corpus(nll: np.ndarray, tok: np.ndarray, axis: int | None = None) -> np.ndarray:
        return np.exp(nll.sum(axis=axis) / tok.sum(axis=axis))

    idx = _indices(na.size, samples, seed)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(corpus(nb[idx], tb[idx], 1) - corpus(na[idx], ta[idx], 1), [tail, 100 - tail])
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return Interval(float(corpus(nb, tb) - corpus(na, ta)), float(low), float(high), int(na.size))
