"""``slmw serve MODEL | --model NAME=SPEC …``: an OpenAI-compatible endpoint for models, variants and runs.

In the foreground by default (Ctrl-C stops it; each request is a line on stderr); ``--detach``
starts it as a ``serve`` job instead (stop it with ``slmw runs stop ID``; its request log is
the run's ``requests.jsonl``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from ..engine.errors import WorkbenchError
from .jobs import add_job_flags
from .output import print_json

READY_WAIT_S = 600.0


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve models or variants as an OpenAI-compatible endpoint (127.0.0.1)")
    p.add_argument("model", nargs="?", help="model, MODEL:VARIANT, run id, ONNX Runtime GenAI folder, or BASE:ADAPTER")
    p.add_argument("--model", dest="models", action="append", default=[], metavar="NAME=SPEC",
                   help="a model to serve under the id NAME (repeatable: several models and adapters)")
    p.add_argument("--adapter", metavar="RUN", help="a LoRA adapter over MODEL: run id or adapter folder")
    p.add_argument("--name", help="the id clients use for MODEL (default: the spec)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port; the URL is printed)")
    p.add_argument("--api-key-env", metavar="NAME", help="require 'Authorization: Bearer $NAME' on every request")
    p.add_argument("--threads", type=int, help="CPU threads per generation")
    p.add_argument("--parallel", type=int, help="answers generated at once, in one batch, per ONNX model (default 4; 1: unbatched)")
    p.add_argument("--queue", type=int, metavar="N",
                   help="requests that may wait per model; one more gets 429 (default: twice --parallel, at least 8)")
    p.add_argument("--quiet", action="store_true", help="do not print the request log")
    add_job_flags(p, stage="serve")
    p.set_defaults(func=cmd_serve)


def recipe_from(args: argparse.Namespace):  # -> ServeRecipe
    from pydantic import ValidationError

    from ..config.serve import ServeRecipe

    entries = list(args.models)
    if args.model:
        spec = f"{args.model}:{args.adapter}" if args.adapter else args.model
        entries.insert(0, f"{args.name}={spec}" if args.name else spec)
    elif args.adapter or args.name:
        raise WorkbenchError("--adapter and --name go with MODEL", hint="or write --model NAME=BASE:ADAPTER")
    if not entries:
        raise WorkbenchError("slmw serve: nothing to serve", hint="give MODEL or --model NAME=SPEC")
    fields = {"models": entries, "host": args.host, "port": args.port, "api_key_env": args.api_key_env,
              "threads": args.threads, "parallel": args.parallel, "queue": args.queue}
    try:
        return ServeRecipe(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "".join(f"{p}: " for p in first["loc"][:1])
        message = first["msg"].removeprefix("Value error, ")
        hint = "--api-key-env NAME names the variable holding the key" if "api_key_env" in message else None
        raise WorkbenchError(f"slmw serve: {where}{message}", hint=hint) from None


def cmd_serve(args: argparse.Namespace) -> int:
    recipe = recipe_from(args)
    from ..engine.serve.server import require_port_free
    from ..engine.serve.stage import check_key

    check_key(recipe.host, recipe.api_key_env)
    require_port_free(recipe.host, recipe.port)  # a port in use: one line and exit 1, before minutes of loading
    from .models_cmd import ensure_model
    from ..engine.model_source import split_adapter
    from ..config.serve import split_entry

    for entry in recipe.models:
        ensure_model(split_adapter(split_entry(entry)[1])[0])
    if args.detach:
        return _detach(recipe, args)
    return _foreground(recipe, args)


def _foreground(recipe, args: argparse.Namespace) -> int:
    from ..engine.serve.request_log import RequestLog
    from ..engine.serve.stage import open_server, serving_line

    log = RequestLog(echo=None if args.quiet else sys.stderr)
    server = open_server(recipe, log, on_status=lambda text: print(text, file=sys.stderr, flush=True))
    names = server.state.pool.names
    if args.json:
        print_json({"url": server.url, "models": names})
    else:
        print(f"{serving_line(server.state.pool, server.url)} (Ctrl-C stops)", flush=True)
    stop = lambda _signum, _frame: server.stop.set()  # noqa: E731
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.state.pool.close()
    return 0


def _detach(recipe, args: argparse.Namespace) -> int:
    """Start the ``serve`` job; return once it listens (its URL) or has failed."""
    from ..engine.runs.launcher import start_recipe
    from ..engine.runs.store import RunStore
    from ..engine.serve.stage import read_server_file

    run_dir = start_recipe(recipe, title=f"serve {', '.join(recipe.models)}", force=args.force)
    store = RunStore(run_dir.parent)
    deadline = time.monotonic() + READY_WAIT_S
    while (info := read_server_file(run_dir)) is None:
        state = store.info(run_dir).state
        if state not in ("queued", "running") or time.monotonic() > deadline:
            from ..engine.runs.run import Run

            error = Run(run_dir).last_error()  # e.g. the port taken since the check above
            why = f": {error.message}" if error is not None else ""
            raise WorkbenchError(f"serve job {run_dir.name} is {state} before listening{why}",
                                 hint=f"slmw runs logs {run_dir.name}")
        time.sleep(0.2)
    if args.json:
        print_json({"id": run_dir.name, "dir": str(run_dir), **info})
    else:
        print(run_dir.name)
        print(f"serving {', '.join(info['models'])} at {info['url']}; stop it: slmw runs stop {run_dir.name}",
              file=sys.stderr)
    return 0
