"""``serve`` as a job: it says where it listens, logs each request, and stops on ``slmw runs stop``;
a port in use is one line, before any model loads."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from slm_workbench.config.serve import ServeRecipe
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.runs.launcher import start_recipe, stop_job, wait_for
from slm_workbench.engine.runs.store import RunStore
from slm_workbench.engine.serve.request_log import REQUEST_LOG
from slm_workbench.engine.serve.server import bind
from slm_workbench.engine.serve.stage import read_server_file

openai = pytest.importorskip("openai", reason="the openai client is a dev dependency")


def wait_listening(run_dir: Path, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while (info := read_server_file(run_dir)) is None:
        assert time.monotonic() < deadline, (run_dir / "worker.log").read_text()[-2000:]
        time.sleep(0.2)
    return info


def test_the_server_as_a_job_logs_requests_and_stops(slmw_home: Path, tiny_model_dir: Path) -> None:
    run_dir = start_recipe(ServeRecipe(models=[f"tiny={tiny_model_dir}"], port=0, threads=1), title="serve tiny")
    try:
        info = wait_listening(run_dir)
        assert info["models"] == ["tiny"] and info["url"].startswith("http://127.0.0.1:")
        c = openai.OpenAI(base_url=info["url"], api_key="none", max_retries=0, timeout=60)
        assert c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Hi"}], max_tokens=3).usage
        with pytest.raises(openai.NotFoundError):
            c.chat.completions.create(model="nope", messages=[{"role": "user", "content": "Hi"}], max_tokens=3)
        lines = [json.loads(line) for line in (run_dir / REQUEST_LOG).read_text().splitlines()]
        assert [(e["model"], e["status"]) for e in lines] == [("tiny", 200), ("nope", 404)]
    finally:
        stop_job(RunStore(run_dir.parent).info(run_dir))
    info = wait_for(run_dir, timeout=60)
    assert info.state == "cancelled"


def test_a_port_in_use_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(WorkbenchError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind("127.0.0.1", port)


def test_the_recipe_refuses_a_network_address_without_a_key_and_names_twice() -> None:
    with pytest.raises(ValueError, match="api_key_env"):
        ServeRecipe(models=["m"], host="0.0.0.0")
    assert ServeRecipe(models=["m"], host="0.0.0.0", api_key_env="K").host == "0.0.0.0"
    with pytest.raises(ValueError, match="given twice"):
        ServeRecipe(models=["a=x", "a=y"])
