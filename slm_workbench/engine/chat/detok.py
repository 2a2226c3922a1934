"""Incremental detokenization: the text each new token adds, without re-decoding the whole answer.

A token can end in the middle of a UTF-8 character or change how the previous token is
spaced, so a token's text is the difference between decoding a short window that ends
with it and the same window without it (the method vLLM and TGI use). A window whose text
ends in U+FFFD waits for the next token.
"""

from __future__ import annotations

from typing import Any

WINDOW = 6


class IncrementalDecoder:
    def __init__(self, tokenizer: Any, *, skip_special_tokens: bool = True) -> None:
        self.tokenizer = tokenizer
        self.skip_special_tokens = skip_special_tokens
        self.ids: list[int] = []
        self._prefix = 0  # window start
        self._read = 0  # first id not yet emitted

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=self.skip_special_tokens)

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        before = self._decode(self.ids[self._prefix:self._read])
        after = self._decode(self.ids[self._prefix:])
        if after.endswith("\ufffd"):
            return ""  # an incomplete character: wait for the next token
        self._advance()
        return after[len(before):] if len(after) > len(before) else ""

    def _advance(self) -> None:
        self._read = len(self.ids)
        self._prefix = max(0, self._read - WINDOW)

    def text(self) -> str:
        return self._decode(self.ids)
