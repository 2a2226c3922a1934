"""``slmw serve MODEL``: an OpenAI-compatible endpoint for any model, variant or run."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from ..engine.errors import WorkbenchError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve a model or variant as an OpenAI-compatible endpoint (127.0.0.1)")
    p.add_argument("model", help="model, MODEL:VARIANT, run id, ONNX Runtime GenAI folder")
    p.add_argument("--adapter", metavar="RUN", help="a LoRA adapter: run id or adapter folder")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port; the URL is printed)")
    p.add_argument("--name", help="the model id clients see (default: the model spec)")
    p.add_argument("--api-key-env", metavar="NAME", help="require 'Authorization: Bearer $NAME' on every request")
    p.add_argument("--threads", type=int, help="CPU threads for the model")
    p.add_argument("--quiet", action="store_true", help="do not log requests")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from ..engine.chat.registry import open_backend
    from ..engine.serve.server import LOOPBACK, ChatServer

    if args.host not in LOOPBACK and not (args.api_key_env and os.environ.get(args.api_key_env)):
        raise WorkbenchError(
            f"refusing to serve on {args.host} without an API key: anyone on the network could use the model",
            hint="set --api-key-env NAME (with NAME set in the environment), or keep 127.0.0.1 and use an SSH tunnel")
    from .models_cmd import ensure_model

    ensure_model(args.model)
    backend = open_backend(args.model, adapter=args.adapter, threads=args.threads,
                           on_status=lambda text: print(text, file=sys.stderr, flush=True))
    try:
        server = ChatServer(backend, args.host, args.port, model_id=args.name or args.model,
                            api_key_env=args.api_key_env, quiet=args.quiet)
    except OSError as exc:
        raise WorkbenchError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
                             hint="pick another --port, or 0 for any free one") from None
    print(f"serving {server.model_id} at {server.base_url} (Ctrl-C stops)", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        backend.close()
    return 0


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
