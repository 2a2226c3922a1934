"""Agreement, degenerate output, the broken rule and task F1."""

from __future__ import annotations

import pytest

from slm_workbench.engine.compare.judge import agreement, broken_reason, degenerate, task_f1


def test_agreement_counts_the_shared_prefix_and_positions():
    a = agreement([1, 2, 3, 4, 5, 6], [1, 2, 3, 9, 5, 6])
    assert (a.same_prefix, a.token_agreement, a.compared) == (3, pytest.approx(5 / 6), 6)
    assert agreement([1, 2], [1, 2, 3]).same_prefix == 2
    assert agreement([], [1]).token_agreement == 0.0


def test_degenerate_catches_runs_and_loops_not_prose():
    assert degenerate([7] * 30)
    assert degenerate([1, 2, 3] * 12)
    assert degenerate([5, 6] * 4 + [9] * 20)
    assert not degenerate(list(range(40)))
    assert not degenerate([7] * 10)  # too short to judge


def test_broken_rule():
    prose = list(range(64))
    assert broken_reason(22.9, 22.7, prose, prose) is None
    assert "NaN" in broken_reason(None, 22.7, prose, prose)
    assert "x the reference" in broken_reason(3.6e7, 22.7, prose, prose)
    assert "degenerate" in broken_reason(23.0, 22.7, [3] * 64, prose)
    # a reference that is itself degenerate (a random test model) does not make the variant broken
    assert broken_reason(23.0, 22.7, [3] * 64, [4] * 64) is None
    assert broken_reason(30.0, 22.7, prose, prose, ppl_ratio=1.2) is not None


def test_task_f1():
    assert task_f1("The answer is Paris.", "Paris") == pytest.approx(2 * (1 / 4) * 1 / (1 / 4 + 1))
    assert task_f1('{"name": "Ana"}', '{"name":"Ana"}') == 1.0
    assert task_f1("", "") == 1.0 and task_f1("x", "y") == 0.0
