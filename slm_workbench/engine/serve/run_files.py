"""A ``serve`` run's own files as their readers see them: where it listens, what it answered.

The job writes ``server.json`` once it listens (``stage.py``) and appends one line per request
to ``requests.jsonl`` (``request_log.py``). The Deploy pane, ``slmw serve`` following its job and
the tests read them through here, which imports no web framework: a pane's poll thread does not
pay for Starlette to read a URL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..events import CorruptLine, decode_metrics
from ..runs.tail import FileTail
from .request_log import REQUEST_LOG

SERVER_FILE = "server.json"
"""Where a ``serve`` run says it listens, once it does."""


def read_server_file(run_dir: Path) -> dict[str, Any] | None:
    """``server.json`` (url, models, host, port, pid, parallel), or None before the server listens."""
    try:
        data = json.loads((Path(run_dir) / SERVER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def request_tail(run_dir: Path) -> FileTail[dict[str, Any] | CorruptLine]:
    """The request log read incrementally: each request's record; a line that does not decode
    is a ``CorruptLine`` (shown as such, never raised)."""
    path = Path(run_dir) / REQUEST_LOG
    return FileTail(path, lambda text, n: decode_metrics(text, path=str(path), line_no=n))
