"""``slmw serve``: one chat backend behind ``/v1/models`` and ``/v1/chat/completions``.

Standard library only (``ThreadingHTTPServer``), bound to 127.0.0.1 unless told otherwise.
Requests are served one generation at a time (a model is one set of weights; two
concurrent generations only slow each other), others wait their turn. A client that
disconnects mid-stream stops its generation. When ``api_key_env`` names a variable that
is set, requests must carry ``Authorization: Bearer <that value>``; the key is never logged.
"""

from __future__ import annotations

import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..chat.session import answer
from ..chat.types import ChatBackend
from . import openai_api as api

MAX_BODY = 8 * 1024 * 1024
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, backend: ChatBackend, host: str = "127.0.0.1", port: int = 8000, *, model_id: str | None = None,
                 api_key_env: str | None = None, quiet: bool = False) -> None:
        self.backend = backend
        self.model_id = model_id or backend.label
        self.api_key_env = api_key_env
        self.quiet = quiet
        self.created = int(time.time())
        self.generate_lock = threading.Lock()
        super().__init__((host, port), Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def authorized(self, header: str | None) -> bool:
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        if not key:
            return True
        return hmac.compare_digest((header or "").encode(), f"Bearer {key}".encode())


class Handler(BaseHTTPRequestHandler):
    server: ChatServer
    server_version = "slmw-serve"
    disable_nagle_algorithm = True  # one small SSE event per token: send each at once

    def log_message(self, format: str, *args: Any) -> None:  # the request line only, never headers
        if not self.server.quiet:
            sys.stderr.write(f"[serve] {self.address_string()} {format % args}\n")

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _guard(self) -> bool:
        if self.server.authorized(self.headers.get("Authorization")):
            return True
        self._json(401, api.ApiError(401, "missing or wrong API key", kind="authentication_error").body())
        return False

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?")[0].rstrip("/")
        if path in ("/health", "/v1/health"):
            self._json(200, {"status": "ok", "model": self.server.model_id})
        elif not self._guard():
            return
        elif path in ("/v1/models", "/models"):
            self._json(200, api.models_list(self.server.model_id, self.server.created))
        else:
            self._json(404, api.ApiError(404, f"no route {path}", kind="not_found").body())

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?")[0].rstrip("/")
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._json(404, api.ApiError(404, f"no route {path}", kind="not_found").body())
            return
        if not self._guard():
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                raise api.ApiError(413 if length else 400, "the request body is missing or too large")
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                raise api.ApiError(400, "the request body is not valid JSON") from None
            request = api.parse_chat_request(body)
        except api.ApiError as exc:
            self._json(exc.status, exc.body())
            return
        with self.server.generate_lock:
            if request.stream:
                self._stream(request)
            else:
                self._complete(request)

    def _generate(self, request: api.ChatRequest, stop: threading.Event, on_text: Any) -> tuple[str, int, int]:
        scanner = api.StopScanner(request.stop)

        def feed(text: str) -> None:
            if not scanner.hit and (out := scanner.feed(text)):
                on_text(out)
            if scanner.hit:
                stop.set()

        reply = answer(self.server.backend, request.messages, request.params, stop=stop, on_text=feed)
        if tail := scanner.rest():
            on_text(tail)
        finish = "length" if reply.tokens >= request.params.max_new_tokens and not scanner.hit else "stop"
        prompt_tokens = _prompt_tokens(self.server.backend, request)
        return finish, prompt_tokens, reply.tokens

    def _complete(self, request: api.ChatRequest) -> None:
        parts: list[str] = []
        try:
            finish, prompt, completion = self._generate(request, threading.Event(), parts.append)
        except Exception as exc:  # noqa: BLE001 - the client gets the reason, the server lives on
            self._json(500, api.ApiError(500, f"generation failed: {exc}", kind="server_error").body())
            return
        cid = api.completion_id()
        self._json(200, api.completion(cid, self.server.model_id, "".join(parts), finish, api.usage(prompt, completion)))

    def _stream(self, request: api.ChatRequest) -> None:
        cid, model, stop = api.completion_id(), self.server.model_id, threading.Event()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

        def send(payload: Any) -> None:
            try:
                self.wfile.write(f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode())
                self.wfile.flush()
            except OSError:  # the client went away: stop generating for it
                stop.set()

        send(api.chunk(cid, model, {"role": "assistant", "content": ""}))
        try:
            finish, prompt, completion = self._generate(request, stop, lambda text: send(api.chunk(cid, model, {"content": text})))
        except Exception as exc:  # noqa: BLE001
            send({"error": {"message": f"generation failed: {exc}", "type": "server_error"}})
            return
        send(api.chunk(cid, model, {}, finish))
        if request.include_usage:
            send({"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                  "choices": [], "usage": api.usage(prompt, completion)})
        send("[DONE]")


def _prompt_tokens(backend: Any, request: api.ChatRequest) -> int:
    prompt_ids = getattr(backend, "prompt_ids", None)
    return len(prompt_ids(request.messages, request.params)) if prompt_ids else 0
