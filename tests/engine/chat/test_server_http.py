"""``slmw serve`` as a real process on a loopback port, and the HTTP backend talking to it.

No mock of the HTTP layer: the server is started the way a user starts it, and the client
is the same ``HttpBackend`` that talks to vLLM, llama.cpp, Ollama or Foundry Local.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from slm_workbench.engine.chat.hf_backend import TransformersBackend
from slm_workbench.engine.chat.http_backend import EndpointError, HttpBackend
from slm_workbench.engine.chat.session import answer
from slm_workbench.engine.chat.types import GenParams

KEY_ENV, KEY = "SLMW_TEST_SERVE_KEY", "sk-test-7f3a9c"
HELLO = [{"role": "user", "content": "Hello there"}]


@pytest.fixture(scope="module")
def server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    log = tmp_path_factory.mktemp("serve") / "stderr.log"
    env = dict(os.environ, **{KEY_ENV: KEY}, SLMW_HOME=str(tmp_path_factory.mktemp("serve-home")))
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "slm_workbench", "serve", str(tiny_model_dir), "--port", "0",
                                 "--name", "tiny", "--api-key-env", KEY_ENV, "--threads", "1"],
                                stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        line = lines.get(timeout=90)
    except queue.Empty:
        proc.kill()
        pytest.fail(f"slmw serve printed nothing in 90 s: {log.read_text()[-2000:]}")
    match = re.search(r"at (http://127\.0\.0\.1:\d+/v1)", line)
    assert match, line
    yield match.group(1), proc, log
    proc.terminate()
    assert proc.wait(timeout=20) == 0  # SIGTERM is a clean shutdown


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


def test_streams_the_same_answer_as_the_model_in_process(server, tiny_model_dir: Path) -> None:
    url, _proc, _log = server
    remote = HttpBackend(url, api_key_env=KEY_ENV, timeout=60)
    assert remote.model == "tiny" and KEY not in repr(remote)
    params = GenParams(max_new_tokens=16)
    reply = answer(remote, HELLO, params)
    local = answer(TransformersBackend(tiny_model_dir, threads=1), HELLO, params)
    assert reply.text == local.text and reply.tokens == 16 and reply.ttft_s is not None


def post(url: str, body: dict, key: str | None = KEY) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
    request = urllib.request.Request(url + "/chat/completions", json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_non_streaming_completion_with_usage(server) -> None:
    url, _proc, _log = server
    status, body = post(url, {"model": "tiny", "messages": HELLO, "max_tokens": 5, "temperature": 0})
    assert status == 200 and body["object"] == "chat.completion"
    assert body["choices"][0]["finish_reason"] == "length" and body["usage"]["completion_tokens"] == 5
    assert body["usage"]["prompt_tokens"] > 5


def test_keys_and_bad_requests_are_refused_plainly(server, monkeypatch: pytest.MonkeyPatch) -> None:
    url, _proc, log = server
    status, body = post(url, {"messages": HELLO}, key="wrong")
    assert status == 401 and body["error"]["type"] == "authentication_error"
    status, body = post(url, {"messages": HELLO, "temperature": 5})
    assert status == 400 and body["error"]["param"] == "temperature"
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(EndpointError, match="401") as err:
        HttpBackend(url, api_key_env=KEY_ENV)
    assert KEY_ENV in (err.value.hint or "")
    assert KEY not in log.read_text()  # the server's log never holds the key


def test_stopping_mid_stream_frees_the_server(server) -> None:
    url, proc, _log = server
    remote = HttpBackend(url, api_key_env=KEY_ENV, timeout=60)
    stop = threading.Event()
    pieces: list[str] = []

    def on_text(text: str) -> None:
        pieces.append(text)
        if len(pieces) == 2:
            stop.set()

    reply = answer(remote, HELLO, GenParams(max_new_tokens=2000), stop=stop, on_text=on_text)
    assert reply.stopped and reply.tokens < 2000
    assert answer(remote, HELLO, GenParams(max_new_tokens=3)).tokens == 3  # served again, at once
    assert proc.poll() is None


def test_an_endpoint_that_is_not_there(slmw_home: Path) -> None:
    with pytest.raises(EndpointError, match="cannot reach"):
        HttpBackend("http://127.0.0.1:9", model="x").stream(HELLO, GenParams()).__next__()


def test_slmw_chat_talks_to_the_endpoint(server, capsys: pytest.CaptureFixture[str]) -> None:
    from slm_workbench.cli.main import main

    url, _proc, _log = server
    assert main(["chat", url, "--prompt", "Hello there", "--json", "--max-new-tokens", "4", "--api-key-env", KEY_ENV]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "tiny @ " + url.split("//")[1].split("/")[0] and result["tokens"] == 4
    assert result["template"].startswith("applied by the server")
