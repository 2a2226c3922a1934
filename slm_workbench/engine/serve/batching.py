"""Batched generation for ONNX Runtime GenAI models: several answers per forward pass.

On a CPU a small model's decode step costs far less per answer in a batch than alone (SmolLM2-135M
int8, ``og.Generator``, 1 thread, 2 shared cores: 8.3 ms a step alone, 15.0 ms for a batch of 4,
18.6 ms for 8), while ``og.Generator`` sessions in parallel threads each pay the full price. So
the answers that can share a forward pass share one batched ``og.Generator``: those with the
same sampling settings, whatever LoRA adapter each names over an adapter base (``adapter_mix``
stacks the adapters and masks each row; over a base older than the row mask, those naming the
same adapter). Their prompts
are right-padded with the model's pad token, which was measured to give each prompt the tokens
it gets alone (``tests/engine/serve/test_adapter_batching.py``; left padding does not). One
thread owns every ``og`` generator and steps the batches in turn; a request arriving while
batches run starts a batch of its own at once, as long as the batches in flight hold fewer than
``max_batch`` answers, else it waits; an idle thread lets a batch fill while requests keep
arriving (``GATHER_S``). A row is done at its end of text or its own ``max_tokens``; its batch
ends when every row is done (a cancelled row only stops being read).

Why not ONNX Runtime GenAI 0.18's ``og.Engine``, which the server used before: its static
scheduler runs batches of at most 4 whatever ``max_batch_size`` says, and it takes no adapter
(``og.Adapters`` activates only on a ``Generator``) nor a per-request seed (that needs a paged
key-value cache). Measured with ``slmw deploy bench`` on int8 (1 thread, parallel 8, 2 cores at
load 1.1-1.6, the two in turn): 1 client 85 / 87-92 tok/s (generators / engine), 4 clients
179-182 / 184-187, **8 clients 251-253 / 189-198**, TTFT p95 at 8 clients 0.69-0.87 s / 1.5-1.6 s.
That bench's answers all have the same length. With lengths of 16-96 tokens (in-process clients,
load ~2) the engine's newcomers wait for the whole batch while ours start a batch of their own,
which fragments the batches: 4 clients 99-106 / 125 tok/s at a TTFT p50 of 0.12 / 0.77 s; 8
clients 145-146 / 139 tok/s at 1.0 / 2.0 s. Holding newcomers up to 0.25 s to start together
gained nothing (107 tok/s, TTFT 0.37 s); continuous batching needs og's dynamic batching and a
paged key-value cache, which these CPU exports lack.

Two LoRA adapters alternating over SmolLM2-135M lora-int8 (``slmw deploy bench --adapters``, 1
thread, parallel 8, load 0.8-0.9): a batch per adapter gave 107-110 tok/s at 4 clients and
172-174 at 8; mixed batches 151-156 and 216-224.

Two kinds of answer run in a batch of one, so they are exactly what they would be alone: a
sampled answer with a ``seed`` (the seed drives the generator's one random stream) and one with
a repetition penalty (the penalty would count the padding).

``BatchedOnnx`` speaks ``ChatBackend`` (plus ``prompt_ids`` and ``context_length``) over the
plain backend it wraps, so the server drives it as it drives any backend.
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..chat.og_backend import OnnxGenaiBackend
from ..chat.types import Delta, GenParams, Message, TemplateInfo
from ..errors import ModelFormatError
from .adapter_mix import AdapterMixes

_END = object()
GATHER_S = 0.03
"""How long an idle batch thread waits, after a request arrives, for the next one to join its batch
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


_solo = itertools.count()


@dataclass
class _Row:
    ids: list[int]
    params: GenParams
    adapter: str | None
    out: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    cancel: bool = False
    done: bool = False
    count: int = 0

    def group(self, *, mix_adapters: bool) -> tuple[Any, ...]:
        """Rows with the same group share a batch; a row that must run alone gets a group of its own.
        Without ``mix_adapters`` (an adapter base older than the row mask) each adapter has its own."""
        p = self.params
        if (p.sample and p.seed is not None) or p.repetition_penalty != 1.0:
            return ("alone", next(_solo))
        return (None if mix_adapters else self.adapter, (p.temperature, p.top_p) if p.sample else None)


@dataclass
class _Batch:
    generator: Any
    rows: list[_Row]
    mix: str | None = None
    """The adapter composition its rows take (``adapter_mix``), given back when it ends."""

    @property
    def live(self) -> bool:
        return any(not r.done for r in self.rows)


class BatchedOnnx:
    """``ChatBackend`` over an ONNX Runtime GenAI model (``OnnxGenaiBackend``, an adapter base or not), answering in batches."""

    kind = "onnx"

    def __init__(self, plain: OnnxGenaiBackend, *, max_batch: int = 4) -> None:
        self.plain = plain
        self.label = plain.label
        self.lora_base = plain.lora_base
        self.context_length = plain.context_length
        self.max_batch = max_batch
        self.pad_id = self._pad_id()
        info = plain.lora_base
        self.mixes = AdapterMixes(plain._adapters, info["inputs"], info["row_mask"]) \
            if info is not None and info.get("row_mask") else None
        """Rows of different adapters share a batch over an adapter base with the row mask (format 3)."""
        self.mixed_batches = 0
        """How many batches so far mixed adapters (or an adapter and the base alone)."""
        self.peak_batch = 0
        """The most answers one forward pass has advanced so far."""
        self.peak_rows = 0
        """The most answers in flight at once so far (never above ``max_batch``)."""
        self._inbox: queue.SimpleQueue[_Row] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._closed = False
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name=f"batches {self.label}", daemon=True)
        self._thread.start()

    def _pad_id(self) -> int:
        try:
            pad = json.loads((self.plain.folder / "genai_config.json").read_text())["model"].get("pad_token_id")
        except (OSError, ValueError, KeyError, AttributeError):
            pad = None
        pad = pad[0] if isinstance(pad, list) and pad else pad
        return int(pad) if isinstance(pad, int) else min(self.plain.eos_ids)

    # -- what the server asks ----------------------------------------------------------------
    @property
    def default_adapter(self) -> str | None:
        return self.plain.default_adapter

    def load_adapter(self, spec: str) -> str:
        return self.plain.load_adapter(spec)

    def template(self) -> TemplateInfo:
        return self.plain.template()

    def prompt_ids(self, messages: list[Message], params: GenParams) -> list[int]:
        return self.plain.prompt_ids(messages, params)

    def stream(self, messages: list[Message], params: GenParams, stop: threading.Event | None = None) -> Iterator[Delta]:
        ids = self.prompt_ids(messages, params)
        if len(ids) >= self.context_length:
            raise ModelFormatError(f"the conversation is {len(ids)} tokens; {self.label} holds {self.context_length}")
        name = self.default_adapter if params.adapter is None else params.adapter
        row = _Row(ids, params, self.load_adapter(name) if name else None)
        self._inbox.put(row)
        self._wake.set()
        try:
            yield from follow_answer(row.out, alive=self._thread.is_alive, stop=stop,
                                     stopped=lambda: f"the batches of {self.label} have stopped: {self._failure}",
                                     decoder=self.plain.tokenizer.create_stream(), eos_ids=self.plain.eos_ids)
        finally:
            row.cancel = True
            self._wake.set()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=10)
        if self.mixes is not None:
            self.mixes.close()
        self.plain.close()

    # -- the batch thread --------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            self._serve()
        except BaseException as exc:  # noqa: BLE001 - kept for the streams, which raise it
            self._failure = exc
            raise

    def _serve(self) -> None:
        batches: list[_Batch] = []
        waiting: list[_Row] = []
        while not self._closed:
            if not batches and not waiting and not self._inbox.empty():
                gather(self._inbox, self.max_batch)
            while True:
                try:
                    waiting.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            for row in [r for r in waiting if r.cancel]:
                waiting.remove(row)
                row.out.put(_END)
            room = self.max_batch - sum(len(b.rows) for b in batches)
            if waiting and room > 0:
                taken, waiting = waiting[:room], waiting[room:]
                groups: dict[tuple[Any, ...], list[_Row]] = {}
                for row in taken:
                    groups.setdefault(row.group(mix_adapters=self.mixes is not None), []).append(row)
                for rows in groups.values():
                    rows.sort(key=lambda r: r.adapter or "")  # one composition per count of rows per adapter
                    try:
                        batches.append(self._start(rows))
                    except Exception as exc:  # noqa: BLE001 - those requests fail, the others go on
                        for row in rows:
                            self._finish(row, RuntimeError(f"cannot start the request: {exc}"))
                self.peak_batch = max([self.peak_batch, *(len(b.rows) for b in batches)])
                self.peak_rows = max(self.peak_rows, sum(len(b.rows) for b in batches))
            for batch in batches:
                for row in batch.rows:
                    if row.cancel and not row.done:
                        self._finish(row)
            for batch in [b for b in batches if not b.live]:
                if batch.mix is not None and self.mixes is not None:
                    self.mixes.give_back(batch.mix)
            batches = [b for b in batches if b.live]  # a finished batch's generator is released here
            if not batches:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            for batch in batches:
                self._step(batch)
        for batch in batches:
            for row in batch.rows:
                if not row.done:
                    self._finish(row)
        for row in waiting:
            row.out.put(_END)

    def _start(self, rows: list[_Row]) -> _Batch:
        import numpy as np

        og, model, p = self.plain._og, self.plain.model, rows[0].params
        longest = max(len(r.ids) for r in rows)
        options: dict[str, Any] = {
            "batch_size": len(rows), "do_sample": p.sample, "repetition_penalty": p.repetition_penalty,
            "max_length": min(self.context_length, longest + max(r.params.max_new_tokens for r in rows)),
        }
        if p.sample:
            options |= {"temperature": p.temperature, "top_p": p.top_p, "top_k": 0}
            if p.seed is not None:
                options["random_seed"] = p.seed
        params = og.GeneratorParams(model)
        params.set_search_options(**options)
        generator = og.Generator(model, params)
        adapters = {row.adapter for row in rows}
        mix = None
        if len(adapters) > 1:
            assert self.mixes is not None
            mix = self.mixes.take([row.adapter for row in rows], self.plain.adapter_files)
            self.mixed_batches += 1
        try:
            if mix is not None or rows[0].adapter is not None:
                generator.set_active_adapter(self.plain._adapters, mix or rows[0].adapter)
            tokens = np.full((len(rows), longest), self.pad_id, dtype=np.int32)
            for i, row in enumerate(rows):
                tokens[i, : len(row.ids)] = row.ids
            generator.append_tokens(tokens)
        except BaseException:
            if mix is not None:
                self.mixes.give_back(mix)  # type: ignore[union-attr]
            raise
        return _Batch(generator, rows, mix)

    def _step(self, batch: _Batch) -> None:
        try:
            batch.generator.generate_next_token()
            tokens = batch.generator.get_next_tokens()
        except Exception as exc:  # noqa: BLE001 - every answer of the batch learns why
            for row in batch.rows:
                if not row.done:
                    self._finish(row, RuntimeError(f"generation failed: {exc}"))
            return
        ended = batch.generator.is_done()
        for row, token in zip(batch.rows, tokens):
            if row.done:
                continue
            token = int(token)
            row.count += 1
            row.out.put(token)
            if ended or token in self.plain.eos_ids or row.count >= row.params.max_new_tokens:
                self._finish(row)

    @staticmethod
    def _finish(row: _Row, failure: BaseException | None = None) -> None:
        row.done = True
        if failure is not None:
            row.out.put(failure)
        row.out.put(_END)
