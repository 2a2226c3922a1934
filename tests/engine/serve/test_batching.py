"""Batched ONNX generation: several answers at once each equal the plain backend's answer alone;
an answer stopped in its batch leaves the others and the engine going."""

from __future__ import annotations

import threading
from pathlib import Path

from slm_workbench.engine.chat.og_backend import OnnxGenaiBackend
from slm_workbench.engine.chat.session import answer
from slm_workbench.engine.chat.types import GenParams
from slm_workbench.engine.serve.batching import BatchedOnnx

PROMPTS = ["Hello there", "What is the capital of France?", "Write a poem about the sea and the sky"]


def test_batched_answers_equal_the_plain_backend(tiny_variants: dict[str, Path]) -> None:
    folder = tiny_variants["fp32"]
    plain = OnnxGenaiBackend(folder, threads=1)
    params = GenParams(max_new_tokens=12)
    alone = {p: answer(plain, [{"role": "user", "content": p}], params).text for p in PROMPTS}
    batched = BatchedOnnx(OnnxGenaiBackend(folder, threads=1), max_batch=4)
    try:
        got: dict[str, str] = {}

        def ask(prompt: str) -> None:
            got[prompt] = answer(batched, [{"role": "user", "content": prompt}], params).text

        threads = [threading.Thread(target=ask, args=(p,)) for p in PROMPTS]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert got == alone
        assert 1 < batched.peak_batch <= 3  # the three answers shared forward passes

        stop = threading.Event()
        stopped: list = []

        def ask_and_stop() -> None:
            stopped.append(answer(batched, [{"role": "user", "content": "Hello there"}], GenParams(max_new_tokens=400),
                                  stop=stop, on_text=lambda _text: stop.set()))

        got.clear()
        threads = [threading.Thread(target=ask, args=(p,)) for p in PROMPTS[1:]] + [threading.Thread(target=ask_and_stop)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert stopped[0].stopped and stopped[0].tokens < 400  # one answer stopped in its batch ...
        assert got == {p: alone[p] for p in PROMPTS[1:]}  # ... the others went on, unchanged
        again = answer(batched, [{"role": "user", "content": "Hello there"}], params)
        assert again.text == alone["Hello there"]
    finally:
        batched.close()
