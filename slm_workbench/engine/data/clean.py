"""Cleaning: duplicate keys, a seeded train/eval split.

Exact dedupe compares the canonical record (roles and texts, after mapping), so the same
example in two formats or with different extra columns is still one example. Normalised
dedupe also ignores case, Unicode width forms, punctuation and spacing: "Paris!" and
" paris" are the same answer.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
from typing import Any, Literal

Dedupe = Literal["none", "exact", "normalized"]
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise_text(text: str) -> str:
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def record_key(record: dict[str, Any], mode: Dedupe) -> bytes:
    """A 16-byte digest that is equal for records that count as duplicates under ``mode``."""
    if mode == "normalized":
        if "messages" in record:
            text = "\x1e".join(f"{m['role']}\x1f{normalise_text(m['content'])}" for m in record["messages"])
        else:
            text = "\x1e".join(normalise_text(record.get(k) or "") for k in ("prompt", "completion", "text"))
    elif "messages" in record:
        text = "\x1e".join(f"{m['role']}\x1f{m['content']}" for m in record["messages"])
    else:
        text = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class Deduper:
    def __init__(self, mode: Dedupe) -> None:
        self.mode = mode
        self.seen: dict[bytes, int] = {}

    def first_row(self, record: dict[str, Any], row: int) -> int | None:
        """None for a new record; else the row it duplicates."""
        if self.mode == "none":
            return None
        key = record_key(record, self.mode)
        first = self.seen.get(key)
        if first is None:
            self.seen[key] = row
        return first


def split_indices(n: int, eval_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded split of ``range(n)`` into (train, eval), each kept in source order.

    Eval gets ``round(n * fraction)`` rows, at least one when the fraction is above zero and
    there are two rows or more, and never all of them.
    """
    if eval_fraction <= 0 or n < 2:
        return list(range(n)), []
    n_eval = min(n - 1, max(1, round(n * eval_fraction)))
    order = list(range(n))
    random.Random(seed).shuffle(order)
    chosen = set(order[:n_eval])
    return [i for i in range(n) if i not in chosen], sorted(chosen)
