"""Judging a variant against the reference: agreement, degenerate output, broken.

The broken rule is deliberately blunt, because its job is to stop someone shipping a model
that is plainly damaged (the table's QInt8 row: perplexity 3.6e7, gibberish out):

- it failed to load or to run, or its perplexity is NaN/infinite;
- its perplexity is more than ``ppl_ratio`` (2x) the reference's;
- its greedy output is degenerate (one token or a short loop repeated) on more than half
  of the prompts where the reference's is not: a random test model's own output can be
  degenerate, and that is not the variant's fault. The prompts are the source's eval
  examples when it has them (what the model is for), else a set of short general prompts;
  one prompt is never enough (a variant that keeps its task can still loop on one prose
  prompt).

A broken variant is listed with its reason but never ranked. Task scores come from the
evaluator (``engine/eval``), so they mean what ``slmw eval`` means.
"""

from __future__ import annotations

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


SAME_START_TOKENS = 30
"""A prompt "starts the same" when this many first tokens (or all compared) equal the reference's."""


def agreement_over(reference: Sequence[Sequence[int]], outputs: Sequence[Sequence[int]]) -> dict[str, float | int]:
    """Agreement on a set of prompts: the first prompt's shared prefix, the mean token agreement,
    and on how many prompts the first ``SAME_START_TOKENS`` tokens match."""
    pairs = [agreement(r, o) for r, o in zip(reference, outputs)]
    if not pairs:
        return {"same_prefix": 0, "token_agreement": 0.0, "compared": 0, "prompts": 0, "prompts_same_start": 0}
    same_start = sum(1 for a in pairs if a.same_prefix >= min(SAME_START_TOKENS, a.compared))
    return {"same_prefix": pairs[0].same_prefix, "compared": pairs[0].compared,
            "token_agreement": round(sum(a.token_agreement for a in pairs) / len(pairs), 4),
            "prompts": len(pairs), "prompts_same_start": same_start}


def broken_reason(
    perplexity: float | None,
    reference_perplexity: float | None,
    outputs: Sequence[Sequence[int]],
    reference_outputs: Sequence[Sequence[int]] | None,
    *,
    ppl_ratio: float = 2.0,
    judged_on: str = "prompts",
) -> str | None:
    """Why a variant is broken, or None. ``outputs``: its greedy answers to the judging prompts
    (``judged_on`` names them: "eval examples" or "prompts"), the reference's in the same order."""
    if perplexity is None:
        return "perplexity is NaN or infinite"
    if reference_perplexity and perplexity > ppl_ratio * reference_perplexity:
        return f"perplexity {perplexity:,.2f} is {perplexity / reference_perplexity:,.1f}x the reference's"
    if reference_outputs is None:
        reference_outputs = [[] for _ in outputs]
    fair = [(o, r) for o, r in zip(outputs, reference_outputs) if not degenerate(r)]
    looping = sum(1 for o, _r in fair if degenerate(o))
    if fair and looping * 2 > len(fair):
        return f"degenerate output on {looping} of {len(fair)} {judged_on} (a token or a short loop repeated)"
    return None
