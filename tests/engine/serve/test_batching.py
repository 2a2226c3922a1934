"""Batched ONNX generation: alone it answers as the plain backend does; several at once each
get the answer they would get alone; a stopped answer leaves the engine serving."""

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
    batched = BatchedOnnx(folder, threads=1, max_batch=4)
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

        stop = threading.Event()
        pieces: list[str] = []

        def on_text(text: str) -> None:
            pieces.append(text)
            stop.set()

        stopped = answer(batched, [{"role": "user", "content": "Hello there"}], GenParams(max_new_tokens=400), stop=stop,
                         on_text=on_text)
        assert stopped.stopped and stopped.tokens < 400
        again = answer(batched, [{"role": "user", "content": "Hello there"}], params)
        assert again.text == alone["Hello there"]
    finally:
        batched.close()
