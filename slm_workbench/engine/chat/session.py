"""Drive one backend for one answer and measure it the same way for every backend.

- time to first token: from the call to the first generated token (prompt encoding,
  prefill and, for HTTP, the round trip included);
- tokens/s: the decode rate, tokens after the first over the time after the first.

``on_text`` receives text as it arrives; ``Batcher`` merges it into one call per interval
so a UI receives tens of updates a second, not one per token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .types import ChatBackend, GenParams, Message, Reply


def answer(backend: ChatBackend, messages: list[Message], params: GenParams, *, stop: threading.Event | None = None,
           on_text: Callable[[str], None] | None = None, clock: Callable[[], float] = time.perf_counter) -> Reply:
    reply = Reply(model=backend.label)
    parts: list[str] = []
    start = clock()
    first: float | None = None
    for delta in backend.stream(messages, params, stop):
        if first is None and delta.tokens:
            first = clock()
        reply.tokens += delta.tokens
        if delta.text:
            parts.append(delta.text)
            if on_text is not None:
                on_text(delta.text)
    end = clock()
    reply.text = "".join(parts)
    reply.seconds = end - start
    reply.stopped = stop is not None and stop.is_set()
    if first is not None:
        reply.ttft_s = first - start
        if reply.tokens > 1 and end > first:
            reply.tok_s = (reply.tokens - 1) / (end - first)
    return reply


class Batcher:
    """Collect text pieces; hand them to ``flush`` at most once per ``interval`` seconds."""

    def __init__(self, flush: Callable[[str], None], interval: float = 0.03,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._flush = flush
        self.interval = interval
        self._clock = clock
        self._pending: list[str] = []
        self._last = clock()

    def add(self, text: str) -> None:
        self._pending.append(text)
        if self._clock() - self._last >= self.interval:
            self.flush()

    def flush(self) -> None:
        self._last = self._clock()
        if self._pending:
            text, self._pending = "".join(self._pending), []
            self._flush(text)


def format_stats(reply: Reply) -> str:
    """``0.21 s to first token · 41.3 tok/s · 87 tokens`` (plus stopped / error)."""
    bits = []
    if reply.ttft_s is not None:
        bits.append(f"{reply.ttft_s:.2f} s to first token")
    if reply.tok_s is not None:
        bits.append(f"{reply.tok_s:.1f} tok/s")
    bits.append(f"{reply.tokens} tokens")
    if reply.stopped:
        bits.append("stopped")
    if reply.error:
        bits.append(f"error: {reply.error}")
    return " · ".join(bits)
