"""Chat fixtures: a scripted backend, and the real SmolLM2 int4 variant (built once, cached)."""

from __future__ import annotations

import os
import shutil
import tempfile
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


def build_cached_variant(model_dir: Path, variant: str, out: Path) -> Path:
    """Build ``variant`` of ``model_dir`` with the export engine (as ``slmw export`` does) in a
    scratch home, then keep it at ``out``."""
    from slm_workbench.engine.export.export import export_variants
    from slm_workbench.config.presets import resolve_presets
    from slm_workbench.engine.model_source import resolve_source

    scratch = Path(tempfile.mkdtemp(prefix="slmw-chat-variant-"))
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SLMW_HOME", str(scratch))
            built = export_variants(resolve_source(str(model_dir)), resolve_presets([variant]), work_dir=scratch / "work")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(built[0].folder), str(out))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


@pytest.fixture(scope="session")
def smollm2_int4_dir(smollm2_dir: Path) -> Path:
    """SmolLM2's int4 ONNX Runtime GenAI variant, built into the test cache once, then reused."""
    folder = TEST_CACHE / "variants" / smollm2_dir.name / "int4"
    if not (folder / "genai_config.json").is_file():
        build_cached_variant(smollm2_dir, "int4", folder)
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
