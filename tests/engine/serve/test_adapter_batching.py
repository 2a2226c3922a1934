"""LoRA adapters over one ONNX base answered in batches: every answer equal to that adapter's answer
alone, adapters mixed across batches, a seeded answer reproducible; over the server, ``base:RUN``
batches, and an adapter trained on another model is a 400 naming both models."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from slm_workbench.engine.chat.og_backend import OnnxGenaiBackend
from slm_workbench.engine.chat.session import answer
from slm_workbench.engine.chat.types import GenParams
from slm_workbench.engine.serve.batching import BatchedOnnx
from tests.engine.deploy.conftest import fp32_base, make_lora_run, two_runs  # noqa: F401 - fixtures

from .conftest import start

PROMPTS = ["Hi", "What is the capital of France?",
           "Write a long poem about the sea, the sky, the wind, the rain, the sun and the moon over an old harbour town"]


def ask(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def test_answers_of_several_adapters_in_batches_equal_each_alone(fp32_base, two_runs) -> None:  # noqa: F811
    first, second = two_runs
    plain = OnnxGenaiBackend(fp32_base, threads=1)
    cases = [(p, a) for p in PROMPTS for a in ("", first.name, second.name)]  # 9 answers, 3 adapters
    alone = {(p, a): answer(plain, ask(p), GenParams(max_new_tokens=10, adapter=a)).text for p, a in cases}
    assert len({alone[(PROMPTS[1], a)] for a in ("", first.name, second.name)}) == 3, "the adapters must change the answer"
    batched = BatchedOnnx(OnnxGenaiBackend(fp32_base, threads=1), max_batch=4)
    try:
        with ThreadPoolExecutor(len(cases)) as pool:
            got = dict(zip(cases, pool.map(
                lambda c: answer(batched, ask(c[0]), GenParams(max_new_tokens=10, adapter=c[1])).text, cases)))
        assert got == alone
        assert 1 < batched.peak_batch <= 4  # answers shared a forward pass, and never more than max_batch
        assert batched.mixed_batches >= 1  # ... some of them answers of different adapters (the row mask)

        stop = threading.Event()
        stopped: list = []

        def ask_and_stop() -> None:
            stopped.append(answer(batched, ask(PROMPTS[0]), GenParams(max_new_tokens=400, adapter=first.name),
                                  stop=stop, on_text=lambda _text: stop.set()))

        rest = [(p, first.name) for p in PROMPTS[1:]]
        with ThreadPoolExecutor(3) as pool:
            pool.submit(ask_and_stop)
            again = dict(zip(rest, pool.map(
                lambda c: answer(batched, ask(c[0]), GenParams(max_new_tokens=10, adapter=c[1])).text, rest)))
        assert stopped[0].stopped and stopped[0].tokens < 400  # one answer stopped in its batch ...
        assert again == {c: alone[c] for c in rest}  # ... the others of its adapter went on, unchanged
    finally:
        batched.close()


def test_seeded_and_penalised_answers_are_the_same_among_others_as_alone(fp32_base, two_runs) -> None:  # noqa: F811
    first, _second = two_runs
    plain = OnnxGenaiBackend(fp32_base, threads=1)
    seeded = GenParams(max_new_tokens=12, temperature=1.0, seed=11, adapter=first.name)
    penalised = GenParams(max_new_tokens=12, repetition_penalty=1.5, adapter=first.name)
    alone = answer(plain, ask(PROMPTS[1]), seeded).text
    alone_penalised = answer(plain, ask(PROMPTS[0]), penalised).text
    batched = BatchedOnnx(OnnxGenaiBackend(fp32_base, threads=1), max_batch=4)
    try:
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(lambda p: answer(batched, ask(p[0]), p[1]).text,
                                [(PROMPTS[1], seeded)] * 2 + [(PROMPTS[0], penalised),
                                                              (PROMPTS[2], GenParams(max_new_tokens=12, adapter=first.name))]))
        assert got[:2] == [alone, alone]
        assert got[2] == alone_penalised  # a repetition penalty runs alone: the padding would count
    finally:
        batched.close()


def test_the_server_batches_adapters_and_refuses_one_of_another_model(
        fp32_base, two_runs, tiny_model_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    import httpx
    import torch
    from transformers import AutoModelForCausalLM

    from slm_workbench.engine.serve.pool import ModelPool

    first, second = two_runs
    torch.manual_seed(7)  # the same architecture, other weights: only the fingerprint tells them apart
    other = tmp_path / "other-tiny"
    AutoModelForCausalLM.from_config(AutoModelForCausalLM.from_pretrained(tiny_model_dir).config).save_pretrained(other)
    stranger = make_lora_run(other, seed=3, r=4, targets=["q_proj"], title="lora other")
    pool = ModelPool.open([f"tiny-lora={fp32_base}"], threads=1, parallel=4)
    try:
        backend = pool.models["tiny-lora"].backend
        assert isinstance(backend, BatchedOnnx)
        server, log = start(pool, tmp_path)
        with server.in_thread():
            def post(model: str, prompt: str) -> httpx.Response:
                return httpx.post(f"{server.url}/chat/completions", timeout=60, json={
                    "model": model, "messages": ask(prompt), "max_tokens": 10, "temperature": 0})

            cases = [(f"tiny-lora:{run.name}", p) for p in PROMPTS[:2] for run in (first, second)]  # alternating
            with ThreadPoolExecutor(4) as threads:
                replies = list(threads.map(lambda c: post(*c), cases))
            refused = post(f"tiny-lora:{stranger.name}", PROMPTS[0])
        assert [r.status_code for r in replies] == [200] * 4, [r.text for r in replies]
        plain = backend.plain  # type: ignore[attr-defined]
        for (model, prompt), reply in zip(cases, replies):
            expected = answer(plain, ask(prompt), GenParams(max_new_tokens=10, adapter=model.split(":")[1])).text
            assert reply.json()["choices"][0]["message"]["content"] == expected, model
        assert refused.status_code == 400, refused.text
        err = refused.json()["error"]
        assert err["code"] == "adapter_base_mismatch" and err["param"] == "model"
        assert str(other) in err["message"] and str(tiny_model_dir.resolve()) in err["message"]
        assert "\n" not in err["message"]
        assert [e["status"] for e in map(json.loads, log.read_text().splitlines())][-1] == 400
    finally:
        pool.close()


@pytest.mark.parametrize("max_batch", [2])
def test_requests_beyond_max_batch_wait_for_room(fp32_base, two_runs, max_batch: int) -> None:  # noqa: F811
    """Five answers of two adapters through batches of at most two: all answered, none lost."""
    first, second = two_runs
    plain = OnnxGenaiBackend(fp32_base, threads=1)
    cases = [(PROMPTS[i % 3], (first.name, second.name)[i % 2]) for i in range(5)]
    alone = {c: answer(plain, ask(c[0]), GenParams(max_new_tokens=6, adapter=c[1])).text for c in set(cases)}
    batched = BatchedOnnx(OnnxGenaiBackend(fp32_base, threads=1), max_batch=max_batch)
    try:
        with ThreadPoolExecutor(5) as pool:
            got = list(pool.map(lambda c: answer(batched, ask(c[0]), GenParams(max_new_tokens=6, adapter=c[1])).text, cases))
        assert got == [alone[c] for c in cases]
        assert batched.peak_rows <= max_batch
    finally:
        batched.close()
