"""Batched generation for ONNX Runtime GenAI models: several answers per forward pass.

On a CPU a small model's decode step costs far less per sequence in a batch (measured on
SmolLM2-135M int8, 2 shared cores: ~19 ms of CPU per token alone, ~11 ms each in a batch of
4), while several ``og.Generator`` sessions in threads each pay the full price (~17 ms per
token whatever their number). ONNX Runtime GenAI 0.18's static scheduler was seen to run
batches of at most 4 even with a larger ``max_batch_size``: more requests take turns. So the server answers through
``og.Engine``: one thread owns the engine and steps it; requests join the next batch, up to
``max_batch`` at once, and each request's tokens are handed to the thread that streams them.
The engine batches statically: a request arriving while a batch runs waits until it ends,
and an idle engine lets a batch fill while requests keep arriving (``GATHER_S``). Every ``og`` call on the engine
and its requests is made on the engine thread.

A sampled request with a ``seed`` cannot join the batch: the static engine refuses a per-turn
seed ("requires an Engine configured for dynamic batching", which needs a paged key-value
cache our exports lack). It runs beside the batch on an ``og.Generator`` of the same loaded
model, as ``slmw chat`` runs it, so one seed gives one answer, alone or among others.

``BatchedOnnx`` speaks ``ChatBackend`` (plus ``prompt_ids`` and ``context_length``), so the
server drives it as it drives any backend.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..chat.og_backend import next_tokens
from ..chat.types import Delta, GenParams, Message, TemplateInfo, default_threads
from ..errors import ModelFormatError

_END = object()
EVENT_BUFFER = 256
GATHER_S = 0.03
"""How long an idle engine waits, after a request arrives, for the next one to join its batch
(again after each arrival, up to ``GATHER_MAX_S``): clients whose answers ended together come
back some milliseconds apart, and a batch cannot be joined once it runs."""
GATHER_MAX_S = 0.25


def gather(inbox: queue.SimpleQueue, max_batch: int) -> None:
    """Idle with requests waiting: let the batch fill while requests keep arriving."""
    deadline = time.monotonic() + GATHER_MAX_S
    waiting = inbox.qsize()
    while waiting < max_batch and time.monotonic() < deadline:
        time.sleep(GATHER_S)
        if inbox.qsize() == waiting:
            return
        waiting = inbox.qsize()


def follow_answer(out: queue.SimpleQueue | queue.Queue, *, alive: Callable[[], bool], stopped: Callable[[], str],
                  stop: threading.Event | None, decoder: Any, eos_ids: Any) -> Iterator[Delta]:
    """One answer's tokens as the batch thread puts them on its queue, decoded, until its end: the
    thread's exception is raised here, a thread that died says ``stopped()``, ``stop`` ends it early."""
    while True:
        try:
            item = out.get(timeout=0.05)
        except queue.Empty:
            if stop is not None and stop.is_set():
                return
            if not alive():
                raise RuntimeError(stopped()) from None
            continue
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item
        yield Delta("" if item in eos_ids else decoder.decode(item))
        if stop is not None and stop.is_set():
            return


@dataclass
class _Job:
    ids: list[int]
    params: GenParams
    out: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    cancel: bool = False
    request: Any = None
    turn: int = 0


class BatchedOnnx:
    kind = "onnx"

    def __init__(self, folder: Path, *, label: str | None = None, threads: int | None = None, max_batch: int = 4) -> None:
        import onnxruntime_genai as og

        self.folder = Path(folder)
        self.label = label or self.folder.name
        self._og = og
        config = og.Config(str(self.folder))
        threads = threads or default_threads()
        # past_present_share_buffer off: the key-value cache grows with each answer instead of being
        # allocated at the full context per batch slot (8 slots of SmolLM2's 8192: 1.8 GB, against 0.3 GB)
        overlay: dict[str, Any] = {"engine": {"static_batching": {"max_batch_size": max_batch}},
                                   "search": {"past_present_share_buffer": False}}
        if threads:
            overlay["model"] = {"decoder": {"session_options": {"intra_op_num_threads": threads, "inter_op_num_threads": 1}}}
        config.overlay(json.dumps(overlay))
        self.max_batch = max_batch
        self._inbox: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._closed = False
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        # og.Engine must be made and stepped on one thread: the engine thread loads the model too
        self._thread = threading.Thread(target=self._loop, args=(config,), name=f"engine {self.label}", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise ModelFormatError(f"ONNX Runtime GenAI cannot load {self.folder}: {self._failure}") from None
        self.tokenizer = og.Tokenizer(self.model)
        self.eos_ids = {int(i) for i in self.tokenizer.eos_token_ids}
        try:
            self.context_length = int(json.loads((self.folder / "genai_config.json").read_text())["model"]["context_length"])
        except (OSError, ValueError, KeyError, TypeError):
            self.context_length = 4096

    # -- what the server asks ----------------------------------------------------------------
    def template(self) -> TemplateInfo:
        jinja = self.folder / "chat_template.jinja"
        return TemplateInfo(str(jinja), jinja.read_text(encoding="utf-8") if jinja.is_file() else None)

    def prompt_ids(self, messages: list[Message], params: GenParams) -> list[int]:
        text = self.tokenizer.apply_chat_template(json.dumps(params.with_system(messages)), add_generation_prompt=True)
        return [int(i) for i in self.tokenizer.encode(text)]

    def stream(self, messages: list[Message], params: GenParams, stop: threading.Event | None = None) -> Iterator[Delta]:
        ids = self.prompt_ids(messages, params)
        if len(ids) >= self.context_length:
            raise ModelFormatError(f"the conversation is {len(ids)} tokens; {self.label} holds {self.context_length}")
        if params.sample and params.seed is not None:
            yield from self._decode(self._seeded(ids, params, stop))
            return
        job = _Job(ids, params)
        self._inbox.put(job)
        self._wake.set()
        try:
            yield from follow_answer(job.out, alive=self._thread.is_alive, stop=stop,
                                     stopped=lambda: f"the engine of {self.label} has stopped: {self._failure}",
                                     decoder=self.tokenizer.create_stream(), eos_ids=self.eos_ids)
        finally:
            job.cancel = True
            self._wake.set()

    def _decode(self, tokens: Iterator[int]) -> Iterator[Delta]:
        decoder = self.tokenizer.create_stream()
        for token in tokens:
            yield Delta("" if token in self.eos_ids else decoder.decode(token))

    def _seeded(self, ids: list[int], params: GenParams, stop: threading.Event | None) -> Iterator[int]:
        """A seeded sampled answer on a generator of its own, beside the engine's batch."""
        og = self._og
        options = {"max_length": min(self.context_length, len(ids) + params.max_new_tokens), "do_sample": True,
                   "temperature": params.temperature, "top_p": params.top_p, "top_k": 0,
                   "repetition_penalty": params.repetition_penalty, "random_seed": params.seed}
        gen_params = og.GeneratorParams(self.model)
        gen_params.set_search_options(**options)
        generator = og.Generator(self.model, gen_params)
        generator.append_tokens(ids)
        yield from next_tokens(generator, stop)

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=10)

    # -- the engine thread -------------------------------------------------------------------
    def _start(self, job: _Job) -> None:
        import numpy as np

        og, p = self._og, job.params
        job.request = self.engine.create_request()
        options = og.TurnOptions(job.request)
        options.set_max_generated_tokens(min(p.max_new_tokens, self.context_length - len(job.ids)))
        if p.sample:
            options.set_do_sample(True)
            options.set_temperature(p.temperature)
            options.set_top_p(p.top_p)
        if p.repetition_penalty != 1.0:
            options.set_repetition_penalty(p.repetition_penalty)
        job.turn = job.request.begin_turn(np.array(job.ids, dtype=np.int32), options)

    def _loop(self, config: Any) -> None:
        og = self._og
        try:
            self.model = og.Model(config)
            self.engine = og.Engine(self.model)
        except Exception as exc:  # noqa: BLE001 - onnxruntime errors are plain RuntimeErrors
            self._failure = exc
            return
        finally:
            self._ready.set()
        try:
            self._serve()
        except BaseException as exc:  # noqa: BLE001 - kept for the streams, which raise it
            self._failure = exc
            raise

    def _serve(self) -> None:
        og = self._og
        buffer = self.engine.create_event_buffer(EVENT_BUFFER)
        token_flag = og.EngineEventFlags.TOKEN.value
        active: list[_Job] = []
        while not self._closed:
            if not active and not self._inbox.empty():
                gather(self._inbox, self.max_batch)
            while True:
                try:
                    job = self._inbox.get_nowait()
                except queue.Empty:
                    break
                try:
                    self._start(job)
                    active.append(job)
                except Exception as exc:  # noqa: BLE001 - that request fails, the engine goes on
                    job.out.put(RuntimeError(f"cannot start the request: {exc}"))
            for job in [j for j in active if j.cancel]:
                self._finish(job, active)
            if not active:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            try:
                events = self.engine.run(buffer)
            except Exception as exc:  # noqa: BLE001 - every request in flight learns why
                for job in list(active):
                    job.out.put(RuntimeError(f"generation failed: {exc}"))
                    self._finish(job, active)
                continue
            for event in events:
                job = next((j for j in active if j.request is event.request or j.request == event.request), None)
                if job is None:
                    continue
                if event.flags.value & token_flag:
                    job.out.put(int(event.token))
                if event.finish_reason != og.FinishReason.NONE:
                    if event.finish_reason == og.FinishReason.FAILED:
                        job.out.put(RuntimeError(f"generation failed: {event.error_code}"))
                    self._finish(job, active)
        for job in active:
            self._finish(job, [])

    def _finish(self, job: _Job, active: list[_Job]) -> None:
        try:
            job.request.close()
        except Exception:  # noqa: BLE001, S110 - closing a request that already ended
            pass
        job.out.put(_END)
        if job in active:
            active.remove(job)
