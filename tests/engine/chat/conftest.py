"""Chat fixtures: a scripted backend, and the real SmolLM2 int4 variant (built once, cached)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slm_workbench.engine.chat.types import Delta, GenParams, Message, TemplateInfo

from ...conftest import TEST_CACHE


class ScriptedBackend:
    """Yields ``words`` one per token, ``delay`` seconds apart; records what it was asked."""

    kind = "scripted"

    def __init__(self, words: list[str], *, label: str = "scripted", delay: float = 0.0, fail: str | None = None) -> None:
        self.words, self.label, self.delay, self.fail = words, label, delay, fail
        self.calls: list[tuple[list[Message], GenParams]] = []

    def template(self) -> TemplateInfo:
        return TemplateInfo("scripted", "<|im_start|>{{ messages }}")

    def stream(self, messages: list[Message], params: GenParams, stop: threading.Event | None = None) -> Iterator[Delta]:
        self.calls.append((messages, params))
        if self.fail:
            raise RuntimeError(self.fail)
        for word in self.words[: params.max_new_tokens]:
            if stop is not None and stop.is_set():
                return
            if self.delay:
                time.sleep(self.delay)
            yield Delta(word)

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def smollm2_int4_dir(smollm2_dir: Path) -> Path:
    """SmolLM2's int4 ONNX Runtime GenAI variant, built by the chat engine's on-demand builder
    into the test cache once, then reused."""
    from slm_workbench.engine.chat.variant_build import build_variant

    folder = TEST_CACHE / "variants" / smollm2_dir.name / "int4"
    if not (folder / "genai_config.json").is_file():
        build_variant(smollm2_dir, "int4", folder)
    return folder


@pytest.fixture
def int4_in_home(prepared_home: Path, smollm2_int4_dir: Path) -> Path:
    """A copy of the int4 variant where ``smollm2-135m-instruct:int4`` resolves in this test's
    home, so a test may alter it. (The weights are hard-linked where possible: ONNX Runtime
    refuses external data that a symlink places outside the model folder.)"""
    folder = prepared_home / "variants" / smollm2_int4_dir.parent.name / "int4"
    folder.mkdir(parents=True)
    for item in smollm2_int4_dir.iterdir():
        try:
            if item.suffix not in (".data", ".onnx"):
                raise OSError("copied: a test may edit it")
            os.link(item, folder / item.name)
        except OSError:
            shutil.copy2(item, folder / item.name)
    return folder
