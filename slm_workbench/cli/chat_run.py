"""The chat subcommand's work: one streamed answer, side by side, and the interactive session."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from .output import print_json


def _open(spec: str, args: argparse.Namespace, adapter: str | None = None) -> Any:
    from ..engine.chat.registry import open_backend
    from .models_cmd import ensure_model

    ensure_model(spec, quiet=args.json)
    say = (lambda text: None) if args.json else (lambda text: print(f"· {text}", file=sys.stderr, flush=True))
    return open_backend(spec, adapter=adapter, endpoint_model=args.endpoint_model, api_key_env=args.api_key_env,
                        threads=args.threads, on_status=say)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _stats(reply: Any) -> str:
    from ..engine.chat.session import format_stats

    return format_stats(reply)


def one_answer(args: argparse.Namespace, params: Any) -> int:
    from ..engine.chat.session import answer

    backend = _open(args.model, args, args.adapter)
    messages = [{"role": "user", "content": args.prompt}]
    reply = answer(backend, messages, params, on_text=None if args.json else _write)
    if args.json:
        print_json(reply.as_dict() | {"template": backend.template().source})
    else:
        print(f"\n[{_stats(reply)}]", file=sys.stderr)
    return 0


def compare(specs: list[str], args: argparse.Namespace, params: Any) -> int:
    from ..engine.chat.compare import answer_all, can_run_concurrently
    from ..engine.textdiff import word_diff

    backends = [_open(spec, args) for spec in specs]
    concurrent = args.concurrent if args.concurrent is not None else can_run_concurrently(len(backends))
    streaming = not args.json and not concurrent
    messages = [{"role": "user", "content": args.prompt}]

    def start(i: int) -> None:
        if streaming:
            print(f"{'' if i == 0 else chr(10)}── {backends[i].label} ──", flush=True)

    replies = answer_all(backends, [messages] * len(backends), params, concurrent=concurrent, on_start=start,
                         on_text=(lambda _i, text: _write(text)) if streaming else None)
    similarity = [word_diff(replies[0].text, r.text, exact=True).ratio for r in replies[1:]]
    if args.json:
        print_json({"answers": [r.as_dict() for r in replies], "similarity_to_first": similarity, "concurrent": concurrent})
        return 0 if not any(r.error for r in replies) else 1
    for i, reply in enumerate(replies):
        if not streaming:
            print(f"── {reply.model} ──\n{reply.text}")
        print(f"\n[{reply.model}: {_stats(reply)}]", file=sys.stderr, flush=True)
    for reply, ratio in zip(replies[1:], similarity):
        print(f"{reply.model} vs {replies[0].model}: {ratio:.0%} of words in common", file=sys.stderr)
    return 0 if not any(r.error for r in replies) else 1


HELP = "/reset starts a new conversation · /system TEXT sets the system prompt · /exit (or Ctrl-D) quits · Ctrl-C stops an answer"


def repl(args: argparse.Namespace, params: Any) -> int:
    from dataclasses import replace

    from ..engine.chat.conversation import ChatSession
    from ..engine.chat.history import ChatStore

    backend = _open(args.model, args, args.adapter)
    print(f"chatting with {backend.label} · template: {backend.template().summary}\n{HELP}", file=sys.stderr)
    store = ChatStore()
    session = ChatSession(store, [backend.label])
    saved = 0
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            print(file=sys.stderr)
            break
        except KeyboardInterrupt:
            print(file=sys.stderr)
            continue
        if line in ("/exit", "/quit"):
            break
        if line == "/reset" or line.startswith("/system"):
            if line.startswith("/system"):
                params = replace(params, system_prompt=line[len("/system"):].strip())
            session = ChatSession(store, [backend.label])
            continue
        if not line:
            continue
        stop = threading.Event()
        try:
            reply = session.ask({0: backend}, line, params, stop=stop, on_text=lambda _i, text: _write(text))[0]
        except KeyboardInterrupt:
            stop.set()
            print("\n[stopped]", file=sys.stderr)
            continue
        saved += reply.error is None
        print(f"\n[{_stats(reply)}]", file=sys.stderr)
    if saved:
        print("saved in the chat history (slmw chat --history)", file=sys.stderr)
    backend.close()
    return 0
