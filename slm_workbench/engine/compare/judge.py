"""Judging a variant against the reference: agreement, degenerate output, broken, task F1.

The broken rule is deliberately blunt, because its job is to stop someone shipping a model
that is plainly damaged (the table's QInt8 row: perplexity 3.6e7, gibberish out):

- it failed to load or to run, or its perplexity is NaN/infinite;
- its perplexity is more than ``ppl_ratio`` (2x) the reference's;
- its greedy output is degenerate (one token or a short loop repeated) while the
  reference's is not: a random test model's own output can be degenerate, and that is
  not the variant's fault.

A broken variant is listed with its reason but never ranked.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Agreement:
    same_prefix: int
    """Tokens identical from the start, before the first difference."""
    token_agreement: float
    """Share of positions with the same token (over the shorter sequence)."""
    compared: int

    def as_dict(self) -> dict[str, float | int]:
        return {"same_prefix": self.same_prefix, "token_agreement": round(self.token_agreement, 4),
                "compared": self.compared}


def agreement(reference: Sequence[int], tokens: Sequence[int]) -> Agreement:
    n = min(len(reference), len(tokens))
    prefix = next((i for i in range(n) if reference[i] != tokens[i]), n)
    same = sum(1 for i in range(n) if reference[i] == tokens[i])
    return Agreement(prefix, same / n if n else 0.0, n)


def degenerate(tokens: Sequence[int], *, min_tokens: int = 24) -> bool:
    """One token run of 16+, or the second half one short loop (period <= 4), or < 4 distinct tokens."""
    if len(tokens) < min_tokens:
        return False
    run = best = 1
    for a, b in zip(tokens, tokens[1:]):
        run = run + 1 if a == b else 1
        best = max(best, run)
    if best >= 16:
        return True
    if len(set(tokens)) < 4:
        return True
    half = list(tokens[len(tokens) // 2 :])
    for period in range(1, 5):
        if all(half[i] == half[i - period] for i in range(period, len(half))):
            return True
    return False


def broken_reason(
    perplexity: float | None,
    reference_perplexity: float | None,
    tokens: Sequence[int],
    reference_tokens: Sequence[int] | None,
    *,
    ppl_ratio: float = 2.0,
) -> str | None:
    if perplexity is None:
        return "perplexity is NaN or infinite"
    if reference_perplexity and perplexity > ppl_ratio * reference_perplexity:
        return f"perplexity {perplexity:,.2f} is {perplexity / reference_perplexity:,.1f}x the reference's"
    if degenerate(tokens) and not (reference_tokens is not None and degenerate(reference_tokens)):
        return "degenerate output (a token or a short loop repeated)"
    return None


_WORD = re.compile(r"\w+", re.UNICODE)


def task_f1(answer: str, reference: str) -> float:
    """Word-level F1 (SQuAD-style: lowercased words, multiset overlap)."""
    a = _WORD.findall(answer.lower())
    r = _WORD.findall(reference.lower())
    if not a or not r:
        return float(a == r)
    common = sum((Counter(a) & Counter(r)).values())
    if not common:
        return 0.0
    precision, recall = common / len(a), common / len(r)
    return 2 * precision * recall / (precision + recall)
