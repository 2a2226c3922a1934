"""The OpenAI chat-completions wire format: request parsing and response shapes.

Only what a chat client needs: ``messages``, ``stream`` (+ ``stream_options.include_usage``),
``max_tokens`` / ``max_completion_tokens``, ``temperature``, ``top_p``, ``seed``, ``stop``,
and the common extension ``repetition_penalty``. Anything malformed is an
``ApiError`` with the field named, returned as OpenAI's ``{"error": {...}}`` body.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from ..chat.types import GenParams, Message

MAX_TOKENS_LIMIT = 32768


class ApiError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, kind: str = "invalid_request_error",
                 code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.kind, self.code = status, message, param, kind, code
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


def model_not_found(name: str | None, served: list[str]) -> ApiError:
    said = f"The model `{name}` does not exist" if name else "'model' is required"
    return ApiError(404 if name else 400, f"{said}; this server holds {', '.join(served)}", "model",
                    code="model_not_found" if name else None)


def busy(model: str, running: int, waiting: int, retry_after_s: int) -> ApiError:
    """Every slot of ``model`` and its queue are full: 429, as OpenAI answers a rate limit, with ``Retry-After``."""
    return ApiError(429, f"The model `{model}` is busy: {running} answers running and {waiting} waiting, the most it "
                         f"takes; retry in {retry_after_s} s", kind="rate_limit_error", code="rate_limit_exceeded",
                    headers={"Retry-After": str(retry_after_s)})


def adapter_refused(name: str, base: str, reason: str, *, other_base: bool) -> ApiError:
    """An adapter the served base cannot take: 400 with the reason (``other_base``: it was trained on another
    model, and the reason names both)."""
    return ApiError(400, f"The adapter of `{name}` cannot answer over `{base}`: {reason}", "model",
                    code="adapter_base_mismatch" if other_base else "invalid_adapter")


def context_exceeded(limit: int, prompt_tokens: int) -> ApiError:
    return ApiError(400, f"This model's maximum context length is {limit} tokens. However, your messages resulted in "
                         f"{prompt_tokens} tokens. Please reduce the length of the messages.", "messages",
                    code="context_length_exceeded")


@dataclass(frozen=True)
class ChatRequest:
    model: str | None
    messages: list[Message]
    params: GenParams
    stream: bool
    include_usage: bool
    stop: tuple[str, ...]


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ApiError(400, f"'{name}' must be a number between {low:g} and {high:g}", name)
    return float(value)


def parse_chat_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "'messages' must be a non-empty list", "messages")
    messages: list[Message] = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "developer"):
            raise ApiError(400, f"messages[{i}] needs a role of system, user or assistant", f"messages[{i}].role")
        content = m.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        if not isinstance(content, str):
            raise ApiError(400, f"messages[{i}].content must be text", f"messages[{i}].content")
        messages.append(Message(role="system" if m["role"] == "developer" else m["role"], content=content))
    if body.get("n") not in (None, 1):
        raise ApiError(400, "only n=1 is supported", "n")
    max_name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ApiError(400, "'seed' must be an integer", "seed")
    stop = body.get("stop") or []
    stop = (stop,) if isinstance(stop, str) else tuple(stop) if isinstance(stop, list) else (None,)
    if not all(isinstance(s, str) and s for s in stop) or len(stop) > 4:
        raise ApiError(400, "'stop' must be a string or up to 4 non-empty strings", "stop")
    params = GenParams(
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0) or 1.0,
        max_new_tokens=int(_number(body, max_name, 512, 1, MAX_TOKENS_LIMIT)),
        repetition_penalty=_number(body, "repetition_penalty", 1.0, 0.5, 2.0),
        seed=seed,
    )
    options = body.get("stream_options") or {}
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ApiError(400, "'model' must be a string", "model")
    return ChatRequest(model or None, messages, params, bool(body.get("stream")), bool(options.get("include_usage")), stop)


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def completion(cid: str, model: str, text: str, finish: str, used: dict[str, int]) -> dict[str, Any]:
    return {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
            "usage": used}


def models_list(models: dict[str, int]) -> dict[str, Any]:
    """``models``: each model id with its creation time."""
    return {"object": "list", "data": [{"id": name, "object": "model", "created": created, "owned_by": "slm-workbench"}
                                       for name, created in models.items()]}


class StopScanner:
    """Cut the text at the first stop string, holding back what could be the start of one."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops
        self.hold = max((len(s) for s in stops), default=1) - 1
        self.buffer = ""
        self.hit = False

    def feed(self, text: str) -> str:
        if not self.stops:
            return text
        self.buffer += text
        cuts = [i for i in (self.buffer.find(s) for s in self.stops) if i >= 0]
        if cuts:
            self.hit = True
            out, self.buffer = self.buffer[: min(cuts)], ""
            return out
        keep = len(self.buffer) - self.hold
        out, self.buffer = (self.buffer[:keep], self.buffer[keep:]) if keep > 0 else ("", self.buffer)
        return out

    def rest(self) -> str:
        out, self.buffer = ("" if self.hit else self.buffer), ""
        return out
