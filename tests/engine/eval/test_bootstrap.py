"""Bootstrap intervals: seeded, covering the mean, narrowing with more examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slm_workbench.engine.eval.bootstrap import mean_interval, paired_difference, perplexity_interval


def test_the_interval_holds_the_mean_and_is_seeded() -> None:
    values = [1.0] * 12 + [0.0] * 4
    a = mean_interval(values, seed=3)
    assert a is not None and a.low <= a.mean == 0.75 <= a.high and a.n == 16
    assert a == mean_interval(values, seed=3)
    assert a.high - a.low > 0.2  # 16 examples: one answer moves the mean 6 points


def test_more_examples_give_a_narrower_interval() -> None:
    rng = np.random.default_rng(0)
    small = mean_interval(rng.integers(0, 2, 16).tolist())
    large = mean_interval(rng.integers(0, 2, 1024).tolist())
    assert small is not None and large is not None
    assert (large.high - large.low) < (small.high - small.low) / 3


def test_no_values_no_interval() -> None:
    assert mean_interval([]) is None
    assert perplexity_interval([], []) is None


def test_perplexity_is_a_ratio_of_sums() -> None:
    interval = perplexity_interval([2.0, 8.0], [2, 2])
    assert interval is not None
    assert interval.mean == pytest.approx(math.exp(10 / 4))
    assert math.exp(1.0) - 1e-9 <= interval.low <= interval.mean <= interval.high <= math.exp(4.0) + 1e-9


def test_paired_difference_of_identical_runs_is_exactly_zero() -> None:
    same = paired_difference([0.2, 0.9, 0.5], [0.2, 0.9, 0.5])
    assert same is not None and same.mean == same.low == same.high == 0.0
    better = paired_difference([0.0] * 10, [1.0] * 10)
    assert better is not None and better.low == 1.0
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 2.0])


def test_perplexity_difference_of_paired_runs() -> None:
    from slm_workbench.engine.eval.bootstrap import perplexity_difference

    same = perplexity_difference([2.0, 4.0], [2, 2], [2.0, 4.0], [2, 2])
    assert same is not None and same.mean == same.low == same.high == 0.0
    lower = perplexity_difference([4.0] * 8, [2] * 8, [2.0] * 8, [2] * 8)
    assert lower is not None and lower.mean == pytest.approx(math.exp(1) - math.exp(2)) and lower.high < 0
    assert perplexity_difference([], [], [], []) is None
