"""The server through the official ``openai`` client: models, answers streamed and not, and
bad requests answered as the OpenAI API answers them, the server staying up."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from slm_workbench.engine.chat.hf_backend import TransformersBackend
from slm_workbench.engine.chat.session import answer
from slm_workbench.engine.chat.types import GenParams

from .conftest import KEY, KEY_ENV, start

openai = pytest.importorskip("openai", reason="the openai client is a dev dependency")
HELLO = [{"role": "user", "content": "Hello there"}]


def client(url: str, key: str = "none") -> "openai.OpenAI":
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=60)


def log_lines(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_models_and_a_greedy_answer_equal_to_the_model_in_process(served, tiny_model_dir: Path) -> None:
    url, log = served
    c = client(url)
    assert [m.id for m in c.models.list()] == ["tiny", "tiny-onnx"]
    reply = c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=8, temperature=0)
    local = answer(TransformersBackend(tiny_model_dir, threads=1), HELLO, GenParams(max_new_tokens=8))
    assert reply.choices[0].message.content == local.text
    assert reply.choices[0].finish_reason == "length" and reply.usage.completion_tokens == 8
    assert reply.usage.prompt_tokens > 5
    entry = log_lines(log)[-1]
    assert (entry["path"], entry["status"], entry["model"], entry["completion_tokens"]) == ("/v1/chat/completions", 200, "tiny", 8)


def test_streaming_from_the_batched_onnx_model(served) -> None:
    url, log = served
    c = client(url)
    whole = c.chat.completions.create(model="tiny-onnx", messages=HELLO, max_tokens=6, temperature=0)
    chunks = list(c.chat.completions.create(model="tiny-onnx", messages=HELLO, max_tokens=6, temperature=0,
                                            stream=True, stream_options={"include_usage": True}))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == 6
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "length"
    assert log_lines(log)[-1]["stream"] is True


def test_an_unknown_model_is_404_and_a_long_prompt_400(served) -> None:
    url, log = served
    c = client(url)
    with pytest.raises(openai.NotFoundError) as err:
        c.chat.completions.create(model="gpt-4o", messages=HELLO, max_tokens=2)
    assert err.value.body["code"] == "model_not_found" and "tiny-onnx" in err.value.body["message"]
    long = [{"role": "user", "content": "hello " * 700}]  # the tiny model holds 512 tokens
    for name in ("tiny", "tiny-onnx"):
        with pytest.raises(openai.BadRequestError) as err:
            c.chat.completions.create(model=name, messages=long, max_tokens=2)
        assert err.value.body["code"] == "context_length_exceeded"
    assert [e["status"] for e in log_lines(log)[-3:]] == [404, 400, 400]
    assert c.chat.completions.create(model="tiny", messages=HELLO, max_tokens=2).usage.completion_tokens == 2


def raw(url: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url.removesuffix("/v1") + path, body, headers or {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_malformed_requests_are_4xx_json_and_health_answers(served) -> None:
    url, _log = served
    assert raw(url, "/v1/chat/completions", b"{not json")[0] == 400
    status, body = raw(url, "/v1/chat/completions", json.dumps({"model": "tiny", "messages": HELLO, "temperature": 7}).encode())
    assert status == 400 and body["error"]["param"] == "temperature"
    status, body = raw(url, "/v1/nowhere")
    assert status == 404 and body["error"]["type"] == "not_found"
    status, body = raw(url, "/health")
    assert status == 200 and body["models"] == ["tiny", "tiny-onnx"]


def test_off_loopback_a_key_is_required(pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule of a server bound to another address, checked on loopback (no external interface)."""
    from slm_workbench.engine.serve.app import key_required

    assert key_required("0.0.0.0") and key_required("192.168.1.5") and not key_required("127.0.0.1")
    monkeypatch.setenv(KEY_ENV, KEY)
    server, log = start(pool, tmp_path, api_key_env=KEY_ENV, key_required=True)
    with server.in_thread():
        with pytest.raises(openai.AuthenticationError):
            client(server.url).models.list()
        with pytest.raises(openai.AuthenticationError):
            client(server.url, "wrong").chat.completions.create(model="tiny", messages=HELLO, max_tokens=2)
        assert client(server.url, KEY).chat.completions.create(model="tiny", messages=HELLO, max_tokens=2).usage
        monkeypatch.delenv(KEY_ENV)  # a key required but none set: nobody gets in
        with pytest.raises(openai.AuthenticationError):
            client(server.url, KEY).models.list()
    assert KEY not in log.read_text()
