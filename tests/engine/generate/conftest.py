"""Generation fixtures: a scripted teacher, prompt files, and a stub OpenAI-compatible endpoint on 127.0.0.1
(the eval tests' stub, answering by prompt and seed, counting requests, able to fail first)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import write_jsonl

from slm_workbench.engine.eval.answerers import Answer
from slm_workbench.engine.errors import WorkbenchError
from tests.engine.eval.test_stage import _Stub

EXTRACT = [
    ("Extract as JSON: Ana Lima, 30, Porto", '{"name": "Ana Lima", "age": 30, "city": "Porto"}'),
    ("Extract as JSON: Bo Chen, 41, Oslo", '{"name": "Bo Chen", "age": 41, "city": "Oslo"}'),
]
ROWS = [
    {"messages": [{"role": "user", "content": EXTRACT[0][0]}, {"role": "assistant", "content": EXTRACT[0][1]}]},
    {"messages": [{"role": "user", "content": EXTRACT[1][0]}, {"role": "assistant", "content": EXTRACT[1][1]}]},
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Capital of France?"},
                  {"role": "assistant", "content": "Paris."}]},
    {"messages": [{"role": "user", "content": "a prompt with no answer yet"}]},
]
"""Four prompts: the first three with a reference (the assistant's answer to the last user turn)."""


@pytest.fixture
def chats(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "chats.jsonl", ROWS)


@pytest.fixture
def prompts_txt(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.txt"
    path.write_text("first prompt\n\nsecond prompt\nthird prompt\nfourth prompt\nfifth prompt\n", encoding="utf-8")
    return path


class ScriptedTeacher:
    """Answers from a function of (last user turn, sampling); can fail on chosen prompts, or call a hook."""

    kind = "scripted"
    label = "scripted"
    scores_perplexity = False

    def __init__(self, answer=None, *, fail_on=frozenset(), finished=True, hook=None) -> None:  # noqa: ANN001
        self.reply = answer or (lambda prompt, sampling: f"answer to {prompt}")
        self.fail_on, self.finished, self.hook = set(fail_on), finished, hook
        self.asked: list[tuple[str, object]] = []

    def answer(self, messages, max_new_tokens, sampling=None):  # noqa: ANN001, ANN201
        prompt = messages[-1]["content"]
        self.asked.append((prompt, sampling))
        if self.hook is not None:
            self.hook(len(self.asked))
        if prompt in self.fail_on:
            raise WorkbenchError(f"cannot answer {prompt!r}")
        return Answer(self.reply(prompt, sampling), 5, 0.01, self.finished)

    def reference_nll(self, messages, reference):  # noqa: ANN001, ANN201
        return None

    def close(self) -> None:
        pass


class GenStub(_Stub):
    """Answers ``answer to PROMPT`` (``#SEED`` appended when sampled); records every request body."""

    bodies: list[dict] = []
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with type(self).lock:
            type(self).bodies.append(body)
            type(self).seen_keys.append(self.headers.get("Authorization", ""))
            failing = type(self).fail_first > 0
            type(self).fail_first -= 1 if failing else 0
        if failing:
            self._json(503, {"error": {"message": "warming up"}})
            return
        text = "answer to " + body["messages"][-1]["content"]
        if body["temperature"] > 0:
            text += f" #{body['seed']}"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for word in text.split(" "):
            self.wfile.write(f"data: {json.dumps({'choices': [{'delta': {'content': word + ' '}}]})}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")


class StubServer:
    def __init__(self) -> None:
        GenStub.bodies, GenStub.seen_keys, GenStub.fail_first = [], [], 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), GenStub)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @property
    def bodies(self) -> list[dict]:
        return GenStub.bodies

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.stop()
