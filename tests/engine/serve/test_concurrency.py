"""Many clients at once: a PyTorch model answers them in turn while the server stays responsive,
a full model refuses at once with 429 and ``Retry-After`` (never a hang), and a seeded sampled
answer is the same among batched answers as alone."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from slm_workbench.engine.serve.pool import ModelPool

from .conftest import start

HELLO = [{"role": "user", "content": "Hello there"}]


def body(model: str, max_tokens: int, **more: object) -> dict:
    return {"model": model, "messages": HELLO, "max_tokens": max_tokens, "temperature": 0, **more}


def wait_until(check, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_pytorch_model_answers_concurrent_requests_and_the_server_stays_responsive(served) -> None:
    url, _log = served
    with httpx.Client(timeout=120) as client, ThreadPoolExecutor(3) as pool:
        answers = [pool.submit(client.post, f"{url}/chat/completions", json=body("tiny", 300)) for _ in range(3)]
        health: list[float] = []
        while not all(f.done() for f in answers):  # the event loop answers while the PyTorch model generates
            started = time.perf_counter()
            assert client.get(f"{url}/health").status_code == 200
            health.append(time.perf_counter() - started)
        other = client.post(f"{url}/chat/completions", json=body("tiny-onnx", 4))
    replies = [f.result() for f in answers]
    assert [r.status_code for r in replies] == [200, 200, 200], [r.text for r in replies]
    assert len({r.json()["choices"][0]["message"]["content"] for r in replies}) == 1  # greedy: one answer, thrice
    assert health and max(health) < 2.0, health
    assert other.status_code == 200


class Slow:
    """A model slower than the test: each piece of its answer a little late (the tiny model is too quick
    to keep a slot busy while the test looks)."""

    def __init__(self, backend: object) -> None:
        self.backend = backend

    def __getattr__(self, name: str) -> object:
        return getattr(self.backend, name)

    def stream(self, messages, params, stop=None):  # noqa: ANN001, ANN201
        for delta in self.backend.stream(messages, params, stop):
            time.sleep(0.05)
            yield delta


def test_a_full_model_is_refused_at_once_with_429_and_retry_after(tiny_model_dir: Path, tmp_path: Path) -> None:
    pool = ModelPool.open([f"tiny={tiny_model_dir}"], threads=1, queue=1)  # one slot, one place in the queue
    model = pool.models["tiny"]
    model.backend = Slow(model.backend)  # type: ignore[assignment]
    try:
        server, log = start(pool, tmp_path)
        with server.in_thread(), httpx.Client(timeout=60) as client:
            url = f"{server.url}/chat/completions"
            with client.stream("POST", url, json=body("tiny", 400, stream=True)) as running:
                next(line for line in running.iter_lines() if line.startswith("data:"))
                with client.stream("POST", url, json=body("tiny", 400, stream=True)) as queued:
                    assert queued.status_code == 200 and model.admitted == 2
                    started = time.perf_counter()
                    refused = client.post(url, json=body("tiny", 4))
                    assert time.perf_counter() - started < 5  # at once, not after the answers ahead
                    assert refused.status_code == 429
                    assert refused.headers["retry-after"] == "1"
                    error = refused.json()["error"]
                    assert error["code"] == "rate_limit_exceeded" and error["type"] == "rate_limit_error"
                    assert "`tiny` is busy: 1 answers running and 1 waiting" in error["message"]
            wait_until(lambda: model.admitted == 0)  # both clients went away: their places are free again
            assert client.post(url, json=body("tiny", 4)).status_code == 200
        entries = log.read_text()
        assert '"status": 429' in entries
    finally:
        pool.close()


def test_the_recipe_queue_0_refuses_a_second_request_while_one_answers(tiny_model_dir: Path, tmp_path: Path) -> None:
    """``queue`` from the recipe reaches the pool through the serve stage: with one answer at a time and
    no place to wait, a second concurrent request is refused at once."""
    from slm_workbench.config.serve import ServeRecipe
    from slm_workbench.engine.serve.request_log import RequestLog
    from slm_workbench.engine.serve.stage import open_server, serving_line

    recipe = ServeRecipe(models=[f"tiny={tiny_model_dir}"], port=0, threads=1, parallel=1, queue=0)
    server = open_server(recipe, RequestLog(tmp_path / "requests.jsonl", echo=None))
    pool = server.state.pool
    model = pool.models["tiny"]
    model.backend = Slow(model.backend)  # type: ignore[assignment]
    try:
        assert model.queue == 0
        assert serving_line(pool, server.url) == f"serving tiny at {server.url} · 1 at once, 0 waiting per model"
        with server.in_thread(), httpx.Client(timeout=60) as client:
            url = f"{server.url}/chat/completions"
            with client.stream("POST", url, json=body("tiny", 400, stream=True)) as running:
                next(line for line in running.iter_lines() if line.startswith("data:"))
                refused = client.post(url, json=body("tiny", 4))
                assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
                assert "`tiny` is busy: 1 answers running and 0 waiting" in refused.json()["error"]["message"]
            wait_until(lambda: model.admitted == 0)
            assert client.post(url, json=body("tiny", 4)).status_code == 200
    finally:
        pool.close()


@pytest.mark.parametrize("model", ["tiny-onnx"])
def test_a_seeded_sampled_answer_is_the_same_among_batched_answers_and_alone(served, model: str) -> None:
    url, _log = served
    seeded = body(model, 12, temperature=1.0, seed=1234)
    with httpx.Client(timeout=60) as client:
        def ask(payload: dict) -> str:
            reply = client.post(f"{url}/chat/completions", json=payload)
            assert reply.status_code == 200, reply.text
            return reply.json()["choices"][0]["message"]["content"]

        alone = ask(seeded)
        with ThreadPoolExecutor(4) as pool:
            batch = list(pool.map(ask, [seeded, body(model, 12, temperature=1.0), seeded, body(model, 12)]))
        others = {ask(body(model, 12, temperature=1.0, seed=s)) for s in (1, 2, 3)}
    assert batch[0] == batch[2] == alone
    assert len(others | {alone}) > 1  # the seed matters: other seeds give other answers
