"""Helpers for the dataset tests: small files written in tmp_path, and the SmolLM2 tokenizer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def chat(user: str = "What is 2 + 2?", assistant: str = "2 + 2 = 4.", system: str | None = None) -> dict[str, Any]:
    messages = [{"role": "system", "content": system}] if system else []
    return {"messages": messages + [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def jsonl(rows: list[Any]) -> str:
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """``write(name, text_or_bytes)`` -> the path of a new file in tmp_path."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))
        return path

    return _write


@pytest.fixture(scope="session")
def tok(smollm2_tokenizer_dir: Path) -> Any:
    from slm_workbench.engine.data import load_tokenizer

    return load_tokenizer(str(smollm2_tokenizer_dir))
