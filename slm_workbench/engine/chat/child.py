"""The child side of ``isolated.py``: open one backend, then answer requests from stdin.

Started as ``python -m slm_workbench.engine.chat.child '{"spec": ..., "options": {...}}'``.
A reader thread turns ``stop`` lines into an event the backend checks between tokens.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
from typing import Any


PROTOCOL = sys.stdout


def emit(event: dict[str, Any]) -> None:
    PROTOCOL.write(json.dumps(event) + "\n")
    PROTOCOL.flush()


def keep_stdout_for_the_protocol() -> None:
    """Libraries (native ones too) that print to stdout would corrupt the protocol: the
    protocol keeps a private copy of stdout, and fd 1 now goes to stderr (the log)."""
    global PROTOCOL
    PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def main(argv: list[str]) -> int:
    from ..errors import WorkbenchError
    from .registry import open_backend
    from .types import GenParams

    keep_stdout_for_the_protocol()
    request = json.loads(argv[0])
    try:
        backend = open_backend(request["spec"], on_status=lambda text: emit({"ev": "status", "text": text}),
                               **request.get("options", {}))
    except WorkbenchError as exc:
        emit({"ev": "failed", "error": exc.message, "hint": exc.hint})
        return 1
    except Exception as exc:  # noqa: BLE001 - reported to the parent, traceback in the log
        import traceback

        traceback.print_exc()
        emit({"ev": "failed", "error": f"{type(exc).__name__}: {exc}"})
        return 1
    info = backend.template()
    folder = getattr(backend, "folder", None)
    emit({"ev": "ready", "label": backend.label, "kind": backend.kind, "folder": str(folder) if folder else None,
          "template": {"source": info.source, "text": info.text}})
    requests: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
    stop = threading.Event()

    def read() -> None:
        for line in sys.stdin:
            message = json.loads(line)
            if message["op"] == "stop":
                stop.set()
            else:
                requests.put(message)
        requests.put(None)  # the parent went away

    threading.Thread(target=read, daemon=True).start()
    while (message := requests.get()) is not None and message["op"] != "close":
        stop.clear()
        try:
            for delta in backend.stream(message["messages"], GenParams(**message["params"]), stop):
                emit({"ev": "delta", "text": delta.text, "tokens": delta.tokens})
            emit({"ev": "end"})
        except WorkbenchError as exc:
            emit({"ev": "error", "error": exc.message, "hint": exc.hint})
        except Exception as exc:  # noqa: BLE001
            import traceback

            traceback.print_exc()
            emit({"ev": "error", "error": f"{type(exc).__name__}: {exc}"})
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
