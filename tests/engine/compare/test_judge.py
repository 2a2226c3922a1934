"""Agreement over a set of prompts, degenerate output, and the broken rule judged on many prompts."""

from __future__ import annotations

import pytest

from slm_workbench.engine.compare.judge import agreement, agreement_over, broken_reason, degenerate


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
    prose = [list(range(64))]
    assert broken_reason(22.9, 22.7, prose, prose) is None
    assert "NaN" in broken_reason(None, 22.7, prose, prose)
    assert "x the reference" in broken_reason(3.6e7, 22.7, prose, prose)
    assert "degenerate output on 1 of 1 prompts" in broken_reason(23.0, 22.7, [[3] * 64], prose)
    # a reference that is itself degenerate (a random test model) does not make the variant broken
    assert broken_reason(23.0, 22.7, [[3] * 64], [[4] * 64]) is None
    assert broken_reason(30.0, 22.7, prose, prose, ppl_ratio=1.2) is not None


def test_one_looping_prompt_of_several_is_not_broken_a_majority_is():
    """The issue's case: int4 loops on the prose prompt but answers the task; fine. Looping on most is not."""
    good = [list(range(k, k + 40)) for k in range(5)]
    one_loop = [[3] * 40] + good[1:]
    assert broken_reason(3.3, 3.1, one_loop, good, judged_on="eval examples") is None
    three_loops = [[3] * 40, [4] * 40, [5, 6] * 20] + good[3:]
    assert broken_reason(3.3, 3.1, three_loops, good, judged_on="eval examples") == (
        "degenerate output on 3 of 5 eval examples (a token or a short loop repeated)")
    short_answers = [[1, 2, 3]] * 5  # answers that stop at EOS early are never degenerate
    assert broken_reason(3.3, 3.1, short_answers, short_answers) is None


def test_agreement_over_a_set_of_prompts():
    ref = [list(range(40)), list(range(100, 140)), list(range(200, 240))]
    out = [[9] + list(range(1, 40)), list(range(100, 140)), list(range(200, 235)) + [0] * 5]
    summary = agreement_over(ref, out)
    assert summary["same_prefix"] == 0 and summary["prompts"] == 3
    assert summary["prompts_same_start"] == 2  # the first differs at token 0; the third after 35 tokens
    assert summary["token_agreement"] == round((39 / 40 + 1 + 35 / 40) / 3, 4)
