"""The models one server holds, each under the id clients ask for.

An entry is ``SPEC`` or ``NAME=SPEC`` (``slmw serve --model``, ``ServeRecipe.models``). SPEC
is what ``slmw chat`` opens, or ``BASE:ADAPTER``: a LoRA adapter (a training run or an
adapter folder) over a base, split by ``split_adapter`` and opened through
``chat.registry.open_backend``. Each entry is loaded once, when the server starts.

Concurrency: an ONNX Runtime GenAI model answers up to ``parallel`` requests at once, in
batches (``batching.py``: one forward pass advances every answer in the batch, which on a
CPU costs far less than one pass each; parallel ``og.Generator`` sessions were measured to
gain nothing per CPU second); over an adapter base, answers of different adapters share a
batch (``adapter_mix.py``); ``parallel: 1`` uses the plain backend. A transformers model
answers one at a time (a PEFT adapter is a setting of the whole model). Each answer runs in
a thread of its own (``generation.py``), so the event loop never waits on a model. Requests
beyond the slots wait, up to ``queue`` of them per model; past that a request is refused at
once (``admit``: the server answers 429), never left hanging.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ...config.serve import split_entry
from ..chat.types import ChatBackend
from ..errors import WorkbenchError
from ..model_source import split_adapter


@dataclass
class ServedModel:
    name: str
    spec: str
    backend: ChatBackend
    parallel: int
    created: int
    context_length: int | None = None
    queue: int = 8
    """How many requests may wait for a slot; one more is refused (``admit``)."""
    _slots: threading.BoundedSemaphore = field(init=False, repr=False)
    _admitted: int = field(init=False, default=0, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.parallel)

    def admit(self) -> bool:
        """Take a place for one request (a slot or the queue); False when every slot and the queue are full.
        A request admitted calls ``release`` once, whatever becomes of it."""
        with self._lock:
            if self._admitted >= self.parallel + self.queue:
                return False
            self._admitted += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._admitted = max(0, self._admitted - 1)

    @property
    def admitted(self) -> int:
        return self._admitted

    @contextmanager
    def slot(self, stop: threading.Event) -> Iterator[bool]:
        """Wait for a free generation slot; yields False when ``stop`` was set while waiting."""
        while not self._slots.acquire(timeout=0.05):
            if stop.is_set():
                yield False
                return
        try:
            yield True
        finally:
            self._slots.release()

    def prompt_ids(self, messages: list[Any], params: Any) -> list[int] | None:
        ids = getattr(self.backend, "prompt_ids", None)
        return list(ids(messages, params)) if ids else None


def context_length(backend: ChatBackend) -> int | None:
    """The most tokens (prompt + answer) the backend's model holds, where it says."""
    if (n := getattr(backend, "context_length", None)) is not None:
        return int(n)
    config = getattr(getattr(backend, "base", None), "config", None)
    n = getattr(config, "max_position_embeddings", None)
    return int(n) if n else None


def open_model(spec: str, *, threads: int | None, parallel: int,
               on_status: Callable[[str], None] | None = None) -> ChatBackend:
    """The backend for one served spec (a preset variant or adapter base not built yet is built first):
    an ONNX Runtime GenAI model answers in batches (``batching.py``) unless ``parallel`` is 1."""
    from ..chat.locate import resolve_target
    from ..chat.registry import open_backend

    base, adapter = split_adapter(spec)
    target = resolve_target(base, adapter=adapter)
    backend = open_backend(target, threads=threads, on_status=on_status)
    if target.kind != "onnx" or parallel < 2:
        return backend
    from .batching import BatchedOnnx

    (on_status or (lambda _text: None))(f"answering {target.spec} in batches of up to {parallel}")
    return BatchedOnnx(backend, max_batch=parallel)  # type: ignore[arg-type]


class ModelPool:
    def __init__(self, models: list[ServedModel]) -> None:
        self.models = {m.name: m for m in models}

    @classmethod
    def open(cls, entries: list[str], *, threads: int | None = None, parallel: int = 4, queue: int | None = None,
             on_status: Callable[[str], None] | None = None) -> ModelPool:
        """Load every entry (building a preset variant that is not built yet). ``queue``: how many requests
        may wait per model (default: twice its slots, at least 8)."""
        import time

        opened: list[ServedModel] = []
        try:
            for entry in entries:
                name, spec = split_entry(entry)
                backend = open_model(spec, threads=threads, parallel=parallel, on_status=on_status)
                if backend.kind == "http":
                    backend.close()
                    raise WorkbenchError(f"cannot serve {spec}: it is an endpoint already",
                                         hint="give a model, a variant, a run or a folder")
                slots = parallel if backend.kind == "onnx" else 1
                opened.append(ServedModel(name, spec, backend, slots, int(time.time()),
                                          context_length(backend), max(8, 2 * slots) if queue is None else queue))
        except BaseException:
            for model in opened:
                model.backend.close()
            raise
        return cls(opened)

    @property
    def names(self) -> list[str]:
        return list(self.models)

    def find(self, name: str | None) -> ServedModel | None:
        """The model a request names; a request without a name gets the only model, if one."""
        if not name:
            return next(iter(self.models.values())) if len(self.models) == 1 else None
        return self.models.get(name)

    def find_with_adapter(self, name: str | None) -> tuple[ServedModel, str | None] | None:
        """The model a request names, and the LoRA adapter it asks for: ``BASE:ADAPTER`` or
        ``BASE+ADAPTER`` over a served ONNX adapter base (a run id, PEFT folder or
        ``.onnx_adapter`` file), switched per answer without reloading the base."""
        from ..adapters.lora import split_adapter_model

        model = self.find(name)
        if model is not None or not name:
            return (model, None) if model is not None else None
        base, adapter = split_adapter_model(name, self.names)
        served = self.models.get(base)
        if served is None or adapter is None or getattr(served.backend, "lora_base", None) is None:
            return None
        return served, adapter

    def close(self) -> None:
        for model in self.models.values():
            model.backend.close()
