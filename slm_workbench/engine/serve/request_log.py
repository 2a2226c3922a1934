"""The server's request log: one JSON line per request, in the run directory of a served job.

``requests.jsonl`` is what the Runs and Deploy panes tail (and ``slmw runs logs``): time, the
client's address, method, path, status, model, whether it streamed, prompt and answer tokens,
time to first token and duration, and the error message of a refused request. Never a
header, so never the API key.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

REQUEST_LOG = "requests.jsonl"
"""The request log's name in a ``serve`` run's directory."""


class RequestLog:
    def __init__(self, path: Path | None = None, *, echo: TextIO | None = sys.stderr) -> None:
        self.path = path
        self.echo = echo
        self._lock = threading.Lock()

    def write(self, **entry: Any) -> None:
        record = {"time": round(time.time(), 3), **{k: v for k, v in entry.items() if v is not None}}
        with self._lock:
            if self.path is not None:
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
            if self.echo is not None:
                self.echo.write(f"[serve] {line(record)}\n")
                self.echo.flush()


def line(record: dict[str, Any]) -> str:
    """``127.0.0.1 POST /v1/chat/completions 200 tiny stream 12+16 tok 0.05 s`` for a person."""
    bits = [str(record.get("client", "-")), record.get("method", ""), record.get("path", ""), str(record.get("status", ""))]
    if model := record.get("model"):
        bits.append(model)
    if record.get("stream"):
        bits.append("stream")
    if "completion_tokens" in record:
        bits.append(f"{record.get('prompt_tokens', 0)}+{record['completion_tokens']} tok")
    if "seconds" in record:
        bits.append(f"{record['seconds']:.2f} s")
    if error := record.get("error"):
        bits.append(f"({error})")
    return " ".join(bits)
