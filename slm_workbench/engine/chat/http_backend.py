"""An OpenAI-compatible endpoint: ``POST {base}/chat/completions`` with ``stream: true`` (SSE).

Foundry Local, vLLM, the llama.cpp server, Ollama (``/v1``) and ``slmw serve`` all speak it.
The API key is read from an environment variable at each request and goes only into the
``Authorization`` header: it is never an attribute, never logged, never written to disk.
Only the standard library is used (``urllib``), so no HTTP client is a dependency.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ..errors import WorkbenchError
from .types import DEFAULT_KEY_ENV, Delta, GenParams, Message, TemplateInfo


class EndpointError(WorkbenchError):
    """The endpoint refused, failed or could not be reached."""


def normalize_base_url(url: str) -> str:
    url = url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise EndpointError(f"not an http(s) URL: {url}")
    return url if parts.path else url + "/v1"


class HttpBackend:
    kind = "http"

    def __init__(self, base_url: str, *, model: str | None = None, api_key_env: str = DEFAULT_KEY_ENV,
                 timeout: float = 120.0, label: str | None = None) -> None:
        self.base_url = normalize_base_url(base_url)
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.model = model or self._first_model()
        self.label = label or f"{self.model} @ {urlsplit(self.base_url).netloc}"

    def __repr__(self) -> str:  # never the key
        return f"HttpBackend({self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r})"

    def _request(self, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Accept": "text/event-stream" if body and body.get("stream") else "application/json"}
        key = os.environ.get(self.api_key_env, "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method="POST" if data else "GET")
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310 - http(s) checked above
        except urllib.error.HTTPError as exc:
            detail = exc.read(2000).decode("utf-8", "replace")
            hint = f"set {self.api_key_env} to the endpoint's API key" if exc.code in (401, 403) else None
            raise EndpointError(f"{self.base_url}{path} answered {exc.code}: {_error_text(detail)}", hint=hint) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EndpointError(f"cannot reach {self.base_url}: {reason}", hint="is the server running?") from None

    def _first_model(self) -> str:
        with self._request("/models") as response:
            models = json.load(response).get("data") or []
        if not models:
            raise EndpointError(f"{self.base_url}/models lists no model", hint="give the model name")
        return str(models[0]["id"])

    def template(self) -> TemplateInfo:
        return TemplateInfo(f"applied by the server ({self.base_url})", None)

    def request_body(self, messages: list[Message], params: GenParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model, "messages": params.with_system(messages), "stream": True,
            "stream_options": {"include_usage": True}, "max_tokens": params.max_new_tokens,
            "temperature": params.temperature, "top_p": params.top_p,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.repetition_penalty != 1.0:
            body["repetition_penalty"] = params.repetition_penalty  # vLLM, llama.cpp and slmw read it
        return body

    def stream(self, messages: list[Message], params: GenParams, stop: threading.Event | None = None) -> Iterator[Delta]:
        counted = 0
        with self._request("/chat/completions", self.request_body(messages, params)) as response:
            for raw in response:
                if stop is not None and stop.is_set():
                    return
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    return
                chunk = json.loads(payload)
                if "error" in chunk:
                    raise EndpointError(f"{self.base_url}: {_error_text(json.dumps(chunk))}")
                for choice in chunk.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content") or ""
                    if text:
                        counted += 1
                        yield Delta(text)
                usage = chunk.get("usage") or {}
                extra = int(usage.get("completion_tokens") or 0) - counted
                if extra > 0:  # the server's own count, when it sends one, is the truth
                    counted += extra
                    yield Delta("", tokens=extra)

    def close(self) -> None:
        pass


def _error_text(body: str) -> str:
    try:
        error = json.loads(body).get("error")
        return str(error.get("message") if isinstance(error, dict) else error)[:300]
    except (ValueError, AttributeError):
        return body[:300] or "no detail"
