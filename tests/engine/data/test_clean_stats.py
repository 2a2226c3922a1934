"""Dedupe, the seeded split, the histogram and summary statistics."""

from __future__ import annotations

from slm_workbench.engine.data import histogram, histogram_lines, length_stats
from slm_workbench.engine.data.clean import Deduper, record_key, split_indices

from .conftest import chat


def test_exact_and_normalised_dedupe():
    a, b = chat("What is the capital of France?", "Paris!"), chat("what is the  capital of france", " paris")
    assert record_key(a, "exact") == record_key(chat("What is the capital of France?", "Paris!"), "exact")
    assert record_key(a, "exact") != record_key(b, "exact")
    assert record_key(a, "normalized") == record_key(b, "normalized")
    dedupe = Deduper("normalized")
    assert dedupe.first_row(a, 1) is None and dedupe.first_row(b, 7) == 1
    assert Deduper("none").first_row(a, 1) is None and Deduper("none").first_row(a, 2) is None


def test_roles_matter_to_dedupe():
    swapped = {"messages": [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]}
    plain = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}
    assert record_key(swapped, "normalized") != record_key(plain, "normalized")


def test_split_is_seeded_disjoint_and_complete():
    train, eval_ = split_indices(100, 0.1, seed=3)
    assert len(eval_) == 10 and sorted(train + eval_) == list(range(100))
    assert split_indices(100, 0.1, seed=3) == (train, eval_)
    assert split_indices(100, 0.1, seed=4)[1] != eval_
    assert train == sorted(train) and eval_ == sorted(eval_)


def test_split_edges():
    assert split_indices(5, 0.0, 1) == ([0, 1, 2, 3, 4], [])
    assert len(split_indices(3, 0.01, 1)[1]) == 1  # a fraction above zero holds out at least one row
    assert split_indices(1, 0.5, 1) == ([0], [])
    assert len(split_indices(2, 0.5, 1)[0]) == 1


def test_histogram_bins_cover_every_length():
    lengths = [12, 17, 40, 41, 99, 250]
    hist = histogram(lengths, bins=10)
    width = hist.edges[1] - hist.edges[0]
    assert str(width).rstrip("0") in ("1", "2", "5")  # a round width
    assert sum(hist.counts) == len(lengths)
    assert hist.edges[0] <= min(lengths) and hist.edges[-1] > max(lengths)
    for lo, hi, count in zip(hist.edges, hist.edges[1:], hist.counts):
        assert count == sum(lo <= n < hi for n in lengths)


def test_histogram_lines_scale_bars_to_the_peak():
    hist = histogram([5] * 10 + [25] * 5, bins=4)
    lines = histogram_lines(hist, width=20)
    assert len(lines) == len(hist.counts)
    peak = next(line for line in lines if line.rstrip().endswith(" 10"))
    assert "█" * 20 in peak


def test_length_stats():
    stats = length_stats([10, 20, 30, 40], [1, 2, 3, 4])
    assert (stats.rows, stats.tokens, stats.trained_tokens, stats.min, stats.max) == (4, 100, 10, 10, 40)
    assert stats.mean == 25 and stats.median == 25 and stats.p95 == 40
    assert length_stats([]).rows == 0
