"""Timing, batching, incremental detokenization, side by side and the answer diff."""

from __future__ import annotations

import threading
from pathlib import Path

from slm_workbench.engine.chat.compare import answer_all, can_run_concurrently
from slm_workbench.engine.textdiff import word_diff
from slm_workbench.engine.chat.detok import IncrementalDecoder
from slm_workbench.engine.chat.session import Batcher, answer, format_stats
from slm_workbench.engine.chat.types import GenParams

from .conftest import ScriptedBackend

USER = [{"role": "user", "content": "hi"}]


class Clock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_answer_figures_use_one_definition() -> None:
    # the clock is read at the start (1), the first token (2) and the end (3):
    # ttft 1 s; the 4 tokens after the first took 1 s
    reply = answer(ScriptedBackend(["a", "b", "c", "d", "e"]), USER, GenParams(), clock=Clock(1.0))
    assert (reply.text, reply.tokens, reply.ttft_s, reply.tok_s) == ("abcde", 5, 1.0, 4.0)
    assert format_stats(reply) == "1.00 s to first token · 4.0 tok/s · 5 tokens"


def test_batcher_merges_pieces_per_interval() -> None:
    flushed: list[str] = []
    clock = Clock(0.01)
    batcher = Batcher(flushed.append, interval=0.03, clock=clock)
    for piece in "abcdefgh":
        batcher.add(piece)
    batcher.flush()
    assert "".join(flushed) == "abcdefgh" and 1 < len(flushed) < 8


def test_incremental_decoding_matches_a_full_decode(smollm2_tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir)
    text = "Paris, c'est très joli 🇫🇷 — 東京は大きい!\n  indented<|im_end|> done"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    decoder = IncrementalDecoder(tokenizer)
    pieces = [decoder.push(i) for i in ids]
    assert "".join(pieces) == tokenizer.decode(ids, skip_special_tokens=True)
    assert "\ufffd" not in "".join(pieces)


def test_side_by_side_keeps_each_column_and_survives_a_failure() -> None:
    good = ScriptedBackend(["x", "y"], label="good")
    bad = ScriptedBackend([], label="bad", fail="model crashed")
    texts: dict[int, str] = {0: "", 1: ""}
    order: list[int] = []

    def on_text(i: int, t: str) -> None:
        texts[i] += t

    replies = answer_all([good, bad], [USER, USER + [{"role": "assistant", "content": "?"}]], GenParams(),
                         concurrent=False, on_text=on_text, on_start=order.append)
    assert [r.model for r in replies] == ["good", "bad"] and order == [0, 1]
    assert replies[0].text == "xy" == texts[0] and replies[1].error == "model crashed"
    assert len(bad.calls[0][0]) == 2  # column 1 got its own history


def test_side_by_side_concurrently_runs_together() -> None:
    started = threading.Barrier(2, timeout=5)

    class Waiting(ScriptedBackend):
        def stream(self, messages, params, stop=None):
            started.wait()  # both must be generating at the same time
            yield from super().stream(messages, params, stop)

    replies = answer_all([Waiting(["a"]), Waiting(["b"])], [USER, USER], GenParams(), concurrent=True)
    assert [r.text for r in replies] == ["a", "b"]


def test_concurrency_only_where_the_hardware_allows() -> None:
    assert not can_run_concurrently(2, cpu_count=2, gpu=False)
    assert can_run_concurrently(2, cpu_count=16, gpu=False)
    assert can_run_concurrently(3, cpu_count=2, gpu=True)


def test_word_diff() -> None:
    diff = word_diff("The capital is Paris.", "The capital is Rome.", exact=True)  # answers, as written
    assert [(s.kind, s.text) for s in diff.merged] == [("equal", "The capital is "), ("missing", "Paris."), ("extra", "Rome.")]
    assert 0.5 < diff.ratio < 1
    assert word_diff("same", "same", exact=True).ratio == 1.0
