"""A backend in a child process: the same answers as in-process, stop, abandoned streams,
and failures that name their cause."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from slm_workbench.engine.chat.hf_backend import TransformersBackend
from slm_workbench.engine.chat.registry import open_backend
from slm_workbench.engine.chat.session import answer
from slm_workbench.engine.chat.types import GenParams
from slm_workbench.engine.errors import WorkbenchError

HELLO = [{"role": "user", "content": "Hello there"}]


@pytest.fixture(scope="module")
def child(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLMW_HOME", str(tmp_path_factory.mktemp("child-home")))
        statuses: list[str] = []
        backend = open_backend(str(tiny_model_dir), isolate=True, threads=1, on_status=statuses.append)
        backend.statuses = statuses
        yield backend
        backend.close()


def test_same_answer_as_in_process(child, tiny_model_dir: Path) -> None:
    assert type(child).__name__ == "ProcessBackend" and child.kind == "transformers"
    assert any(s.startswith("loading") for s in child.statuses)
    assert child.template().text and "<|im_start|>" in child.template().text
    params = GenParams(max_new_tokens=12, system_prompt="Be brief.")
    local = answer(TransformersBackend(tiny_model_dir, threads=1), HELLO, params)
    remote = answer(child, HELLO, params)
    assert (remote.text, remote.tokens) == (local.text, local.tokens)


def test_stop_and_an_abandoned_stream_leave_it_ready(child) -> None:
    stop = threading.Event()
    seen: list[str] = []

    def on_text(text: str) -> None:
        seen.append(text)
        stop.set()

    reply = answer(child, HELLO, GenParams(max_new_tokens=400), stop=stop, on_text=on_text)
    assert reply.stopped and reply.tokens < 400
    stream = child.stream(HELLO, GenParams(max_new_tokens=400))
    next(stream)
    stream.close()  # the caller walks away mid-answer
    assert answer(child, HELLO, GenParams(max_new_tokens=5)).tokens == 5


def test_a_load_failure_is_the_childs_message(slmw_home: Path, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")  # an HF folder that is not a model
    with pytest.raises(WorkbenchError) as err:
        open_backend(str(tmp_path), isolate=True)
    assert f"transformers cannot load {tmp_path}" in err.value.message
