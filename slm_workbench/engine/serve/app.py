"""The ASGI application: ``/health``, ``/v1/models``, ``/v1/chat/completions`` (streamed or not).

Starlette routes, sse-starlette for the event stream. Bad requests are answered as the
OpenAI API answers them: a 4xx status with ``{"error": {message, type, param, code}}``
(an unknown model 404 ``model_not_found``, an adapter trained on another model than the
served base 400 ``adapter_base_mismatch`` naming both, a prompt longer than the model's
context 400 ``context_length_exceeded``, a missing or wrong key 401, every slot and the
queue of the model full 429 ``rate_limit_exceeded`` with ``Retry-After``), and the server
stays up.
Every request but ``/health`` is a line of the request log.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import os
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..adapters.lora import AdapterBaseMismatch
from ..errors import ModelNotFoundError, WorkbenchError
from . import openai_api as api
from .generation import Outcome, generate
from .pool import ModelPool, ServedModel
from .request_log import RequestLog

MAX_BODY = 8 * 1024 * 1024
RETRY_AFTER_S = 1
"""What a refused request (429) is told to wait: a slot frees as soon as one answer ends."""


@dataclasses.dataclass
class ServerState:
    pool: ModelPool
    log: RequestLog
    api_key_env: str | None = None
    key_required: bool = False
    """Refuse every request when no key is set (a server bound off loopback)."""
    started: float = dataclasses.field(default_factory=time.time)

    def check_key(self, header: str | None) -> None:
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        if not key and not self.key_required:
            return
        if not key or not hmac.compare_digest((header or "").encode(), f"Bearer {key}".encode()):
            raise api.ApiError(401, "Incorrect or missing API key: send 'Authorization: Bearer <key>'",
                               kind="authentication_error", code="invalid_api_key")


def key_required(host: str) -> bool:
    """Whether a server bound to ``host`` must refuse requests without a key: off loopback, always."""
    from ...config.serve import LOOPBACK_HOSTS

    return host not in LOOPBACK_HOSTS


def error(exc: api.ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def make_app(state: ServerState) -> Starlette:
    def entry(request: Request, status: int, **more: Any) -> None:
        client = request.client.host if request.client else None
        state.log.write(client=client, method=request.method, path=request.url.path, status=status, **more)

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok", "models": state.pool.names, "uptime_s": round(time.time() - state.started, 1)})

    async def models(request: Request) -> Response:
        try:
            state.check_key(request.headers.get("authorization"))
        except api.ApiError as exc:
            entry(request, exc.status, error=exc.message)
            return error(exc)
        entry(request, 200)
        return JSONResponse(api.models_list({m.name: m.created for m in state.pool.models.values()}))

    async def chat(request: Request) -> Response:
        started = time.perf_counter()
        said: str | None = None
        try:
            state.check_key(request.headers.get("authorization"))
            parsed = api.parse_chat_request(await _json_body(request))
            said = parsed.model
            found = state.pool.find_with_adapter(parsed.model)
            if found is None:
                raise api.model_not_found(parsed.model, state.pool.names)
            model, adapter = found
            params, prompt_tokens = await _fit(model, parsed)
            if adapter is not None:  # over an adapter base: this answer's LoRA, the base stays loaded
                import anyio

                try:
                    await anyio.to_thread.run_sync(model.backend.load_adapter, adapter)  # once; then cached
                except ModelNotFoundError as exc:
                    raise api.model_not_found(parsed.model, state.pool.names) from exc
                except WorkbenchError as exc:  # it exists, but this base cannot take it
                    raise api.adapter_refused(str(parsed.model), model.name, str(exc),
                                              other_base=isinstance(exc, AdapterBaseMismatch)) from exc
                params = dataclasses.replace(params, adapter=adapter)
            if not model.admit():
                running = min(model.admitted, model.parallel)
                raise api.busy(model.name, running, model.admitted - running, RETRY_AFTER_S)
        except api.ApiError as exc:
            entry(request, exc.status, error=exc.message, model=said)
            return error(exc)
        stop = threading.Event()
        outcome = Outcome()
        pieces = generate(model, parsed.messages, params, parsed.stop, stop, outcome)
        cid = api.completion_id()

        def done(status: int, failure: str | None = None) -> None:
            entry(request, status, model=model.name, stream=parsed.stream, prompt_tokens=prompt_tokens,
                  completion_tokens=outcome.completion_tokens, ttft_s=_round(outcome.ttft_s),
                  seconds=round(time.perf_counter() - started, 3), error=failure)

        if not parsed.stream:
            try:
                text = "".join([piece async for piece in pieces])
            except Exception as exc:  # noqa: BLE001 - the client gets the reason, the server lives on
                done(500, str(exc))
                return error(api.ApiError(500, f"generation failed: {exc}", kind="server_error"))
            done(200)
            usage = api.usage(prompt_tokens, outcome.completion_tokens)
            return JSONResponse(api.completion(cid, model.name, text, outcome.finish, usage))

        async def events() -> AsyncIterator[dict[str, str]]:
            failure: str | None = "the client went away"  # until the stream ends
            try:
                yield _event(api.chunk(cid, model.name, {"role": "assistant", "content": ""}))
                try:
                    async for piece in pieces:
                        yield _event(api.chunk(cid, model.name, {"content": piece}))
                except Exception as exc:  # noqa: BLE001 - told in the stream: the status is sent already
                    failure = str(exc)
                    yield _event({"error": {"message": f"generation failed: {exc}", "type": "server_error"}})
                    return
                yield _event(api.chunk(cid, model.name, {}, outcome.finish))
                if parsed.include_usage:
                    yield _event({"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                                  "model": model.name, "choices": [],
                                  "usage": api.usage(prompt_tokens, outcome.completion_tokens)})
                yield {"data": "[DONE]"}
                failure = None
            finally:
                stop.set()
                await pieces.aclose()
                done(200, failure)

        from sse_starlette.sse import EventSourceResponse

        return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-cache"})

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = f"no route {request.method} {request.url.path}" if status in (404, 405) else str(exc)
        entry(request, status, error=message)
        return error(api.ApiError(status, message, kind="not_found" if status == 404 else "invalid_request_error"))

    routes = [
        Route("/health", health), Route("/v1/health", health),
        Route("/v1/models", models), Route("/models", models),
        Route("/v1/chat/completions", chat, methods=["POST"]), Route("/chat/completions", chat, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: not_found})


async def _json_body(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise api.ApiError(413, f"the request body is larger than {MAX_BODY // (1024 * 1024)} MiB")
    raw = await request.body()
    if not raw:
        raise api.ApiError(400, "the request body is empty: send a JSON object")
    try:
        return json.loads(raw)
    except ValueError:
        raise api.ApiError(400, "the request body is not valid JSON") from None


async def _fit(model: ServedModel, parsed: api.ChatRequest) -> tuple[Any, int]:
    """The request's parameters with ``max_new_tokens`` cut to the context left, and the prompt's
    length; a prompt that fills the context is a 400, as OpenAI answers it."""
    import anyio

    ids = await anyio.to_thread.run_sync(model.prompt_ids, parsed.messages, parsed.params)
    if ids is None:
        return parsed.params, 0
    limit = model.context_length
    if limit is not None and len(ids) >= limit:
        raise api.context_exceeded(limit, len(ids))
    params = parsed.params
    if limit is not None and len(ids) + params.max_new_tokens > limit:
        params = dataclasses.replace(params, max_new_tokens=limit - len(ids))
    return params, len(ids)


def _event(payload: dict[str, Any]) -> dict[str, str]:
    return {"data": json.dumps(payload)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)

