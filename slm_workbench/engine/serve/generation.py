"""One answer, generated in a thread of its own and handed to the event loop piece by piece.

The model call blocks (ONNX Runtime and torch compute outside the GIL), so it runs in a
daemon thread, started at once, that waits for a free slot of its model
(``ServedModel.slot``) and gives back the request's place (``ServedModel.release``) when it
ends, whatever happens to the response; each piece of text crosses to the event loop
through ``call_soon_threadsafe``. Setting ``stop`` (the
client went away, the server is shutting down, a stop string was met) ends the generation
at the next token.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ..chat.session import answer
from ..chat.types import GenParams, Message
from . import openai_api as api
from .pool import ServedModel


@dataclass
class Outcome:
    finish: str = "stop"
    completion_tokens: int = 0
    ttft_s: float | None = None
    seconds: float = 0.0


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def generate(model: ServedModel, messages: list[Message], params: GenParams, stops: tuple[str, ...],
             stop: threading.Event, outcome: Outcome) -> AsyncIterator[str]:
    """Start the answer of a request ``model.admit()`` let in; yield its text as it comes. ``outcome`` holds
    the figures once it is exhausted. Called on the event loop."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    done = object()

    def put(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: the server is gone
            stop.set()

    def work() -> None:
        scanner = api.StopScanner(stops)

        def feed(text: str) -> None:
            if not scanner.hit and (out := scanner.feed(text)):
                put(out)
            if scanner.hit:
                stop.set()

        try:
            with model.slot(stop) as free:
                if free:
                    reply = answer(model.backend, messages, params, stop=stop, on_text=feed)
                    if tail := scanner.rest():
                        put(tail)
                    length = reply.tokens >= params.max_new_tokens and not scanner.hit
                    outcome.finish = "length" if length else "stop"
                    outcome.completion_tokens, outcome.ttft_s, outcome.seconds = reply.tokens, reply.ttft_s, reply.seconds
            put(done)
        except BaseException as exc:  # noqa: BLE001 - raised again on the event loop's side
            put(_Failed(exc))
        finally:
            model.release()

    threading.Thread(target=work, name=f"answer {model.name}", daemon=True).start()

    async def pieces() -> AsyncIterator[str]:
        item: object = None
        try:
            while (item := await queue.get()) is not done:
                if isinstance(item, _Failed):
                    raise item.exc
                yield item  # type: ignore[misc]
        finally:
            if item is not done:  # abandoned (client gone, server stopping) or failed
                stop.set()

    return pieces()
