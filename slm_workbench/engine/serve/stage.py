"""Job stage ``serve``: the server as a job, until ``slmw runs stop`` (or ``s`` in Runs or Deploy).

The port is bound before the models load, so a port in use fails at once with one line.
Once it listens, ``server.json`` in the run directory says where (URL, models, pid), and
``requests.jsonl`` gets one line per request (``request_log.py``) for the panes to tail
(``run_files.py`` reads both).
A stop ends the server within its shutdown grace and the run reads ``cancelled``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from ...config.serve import ServeRecipe
from ..errors import WorkbenchError
from ..runs.context import RunContext
from .app import ServerState, key_required
from .pool import ModelPool
from .request_log import REQUEST_LOG, RequestLog
from .run_files import SERVER_FILE, read_server_file
from .server import Server, bind

__all__ = ["SERVER_FILE", "check_key", "open_server", "read_server_file", "run", "serving_line"]


def check_key(host: str, api_key_env: str | None) -> None:
    """Off loopback the key must be set before anything listens."""
    if key_required(host) and not (api_key_env and os.environ.get(api_key_env)):
        raise WorkbenchError(
            f"refusing to serve on {host} without an API key: anyone on the network could use the model",
            hint="set api_key_env / --api-key-env NAME with NAME set in the environment, or keep 127.0.0.1")


def open_server(recipe: ServeRecipe, log: RequestLog, on_status: Any = None) -> Server:
    """Bind, load the models, and return the server ready to run."""
    check_key(recipe.host, recipe.api_key_env)
    sock = bind(recipe.host, recipe.port)
    try:
        pool = ModelPool.open(recipe.models, threads=recipe.threads, parallel=recipe.parallel, queue=recipe.queue,
                              on_status=on_status)
    except BaseException:
        sock.close()
        raise
    state = ServerState(pool, log, api_key_env=recipe.api_key_env, key_required=key_required(recipe.host))
    return Server(state, sock)


def serving_line(pool: ModelPool, url: str) -> str:
    """``serving tiny at URL · 4 at once, 8 waiting per model``: what is served, and how many requests each
    model answers at once and lets wait before it refuses one (429)."""
    shapes = {(m.parallel, m.queue) for m in pool.models.values()}
    if len(shapes) == 1:
        ((parallel, queue),) = shapes
        return f"serving {', '.join(pool.names)} at {url} · {parallel} at once, {queue} waiting per model"
    each = ", ".join(f"{m.name} ({m.parallel} at once, {m.queue} waiting)" for m in pool.models.values())
    return f"serving {each} at {url}"


def run(recipe: ServeRecipe, ctx: RunContext) -> None:
    log = RequestLog(ctx.run_dir / REQUEST_LOG, echo=sys.stdout)
    server = open_server(recipe, log, on_status=lambda text: ctx.progress("loading", message=text))
    pool = server.state.pool
    try:
        info = {"url": server.url, "models": pool.names, "host": recipe.host, "pid": os.getpid(),
                "port": server.sock.getsockname()[1], "parallel": recipe.parallel}
        aside = ctx.run_dir / f".{SERVER_FILE}.tmp"
        aside.write_text(json.dumps(info, indent=2), encoding="utf-8")
        aside.replace(ctx.run_dir / SERVER_FILE)
        ctx.artifact("requests", ctx.run_dir / REQUEST_LOG, "the request log, one JSON line per request")
        ctx.progress("serving", message=serving_line(pool, server.url))
        print(serving_line(pool, server.url), flush=True)
        server.stop_when(ctx.cancel_requested.is_set)
        server.run()
    finally:
        pool.close()
    ctx.check_cancelled()
