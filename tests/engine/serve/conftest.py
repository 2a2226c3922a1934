"""Server fixtures: the ASGI server in a thread on a loopback port, with the tiny models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from slm_workbench.engine.serve.app import ServerState
from slm_workbench.engine.serve.pool import ModelPool
from slm_workbench.engine.serve.request_log import RequestLog
from slm_workbench.engine.serve.server import Server, bind

KEY_ENV, KEY = "SLMW_TEST_SERVE_KEY", "sk-test-51d0"


@pytest.fixture(scope="module")
def pool(tiny_model_dir: Path) -> Iterator[ModelPool]:
    """The tiny transformers model as ``tiny`` and its fp32 ONNX variant as ``tiny-onnx`` (batched)."""
    from tests.export_fixtures import build_tiny_variants

    fp32 = build_tiny_variants(tiny_model_dir)["fp32"]
    pool = ModelPool.open([f"tiny={tiny_model_dir}", f"tiny-onnx={fp32}"], threads=1, parallel=4)
    yield pool
    pool.close()


def start(pool: ModelPool, tmp_path: Path, **state: object) -> tuple[Server, Path]:
    log = tmp_path / "requests.jsonl"
    server = Server(ServerState(pool, RequestLog(log, echo=None), **state), bind("127.0.0.1", 0))  # type: ignore[arg-type]
    return server, log


@pytest.fixture
def served(pool: ModelPool, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    server, log = start(pool, tmp_path)
    with server.in_thread():
        yield server.url, log
