"""Run a backend in its own process, for a UI that must stay responsive while it generates.

ONNX Runtime GenAI holds the GIL for the whole of each ``generate_next_token`` call, and
``transformers.generate`` runs much Python per token: in the TUI's process either one
delays every keypress by up to a token's time, several times over (hundreds of ms
measured). In a child process the model has its own interpreter, and only finished text
crosses over, as JSON lines on a pipe. The child also takes the ML stack's imports and
memory with it, and a crash in native code ends the child, not the TUI.

Protocol (one JSON object per line). Parent -> child: ``{"op": "stream", "messages",
"params"}``, ``{"op": "stop"}``, ``{"op": "close"}``. Child -> parent: ``status``, ``ready``
(label, kind, template), ``failed`` (error, hint), ``delta`` (text, tokens), ``end``, ``error``.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import WorkbenchError
from .types import Delta, GenParams, Message, TemplateInfo

CHILD = "slm_workbench.engine.chat.child"


class ProcessBackend:
    """A ``ChatBackend`` whose model lives in a child process (``child.py``)."""

    def __init__(self, spec: str, options: dict[str, Any], *, on_status: Callable[[str], None] | None = None,
                 timeout: float = 1800) -> None:
        log = paths.cache_dir() / "chat-worker.log"
        paths.ensure_writable_dir(log.parent, "workbench cache folder")
        self._log = open(log, "a", encoding="utf-8")  # noqa: SIM115 - kept for the child's lifetime
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._proc = subprocess.Popen([sys.executable, "-m", CHILD, json.dumps({"spec": spec, "options": options})],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True,
                                      bufsize=1, env=env, start_new_session=True)
        self._events: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        threading.Thread(target=self._read, name=f"child {spec}", daemon=True).start()
        self._lock = threading.Lock()
        while True:
            event = self._next(timeout)
            if event["ev"] == "status" and on_status is not None:
                on_status(event["text"])
            elif event["ev"] == "failed":
                self.close()
                raise WorkbenchError(event["error"], hint=event.get("hint"))
            elif event["ev"] == "ready":
                break
        self.label, self.kind = event["label"], event["kind"]
        self._template = TemplateInfo(event["template"]["source"], event["template"]["text"])
        self.folder = Path(event["folder"]) if event.get("folder") else None

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                self._events.put(json.loads(line))
            except ValueError:
                continue  # stray output from a library: not part of the protocol
        self._events.put(None)

    def _next(self, timeout: float | None) -> dict[str, Any]:
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            raise WorkbenchError(f"the model process did not answer within {timeout:.0f} s") from None
        if event is None:
            raise WorkbenchError(f"the model process ended (exit {self._proc.wait()}); see {self._log.name}")
        return event

    def _send(self, message: dict[str, Any]) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise WorkbenchError(f"the model process has ended; see {self._log.name}") from None

    def template(self) -> TemplateInfo:
        return self._template

    def stream(self, messages: list[Message], params: GenParams, stop: threading.Event | None = None) -> Iterator[Delta]:
        with self._lock:
            self._send({"op": "stream", "messages": messages, "params": params.as_dict()})
            stop_sent = finished = False
            try:
                while True:
                    if not stop_sent and stop is not None and stop.is_set():
                        self._send({"op": "stop"})
                        stop_sent = True
                    try:
                        event = self._events.get(timeout=0.05)
                    except queue.Empty:
                        continue
                    if event is None:
                        finished = True
                        self._events.put(None)
                        self._next(0)  # raises, naming the exit code and the log
                    if event["ev"] == "delta":
                        yield Delta(event["text"], event["tokens"])
                    elif event["ev"] in ("end", "error"):
                        finished = True
                        if event["ev"] == "error":
                            raise WorkbenchError(event["error"], hint=event.get("hint"))
                        return
            finally:
                if not finished:  # the caller stopped reading: stop the child and drop the rest
                    self._send({"op": "stop"})
                    while (event := self._next(60))["ev"] not in ("end", "error"):
                        pass

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._send({"op": "close"})
                self._proc.wait(timeout=10)
            except (WorkbenchError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._log.close()
