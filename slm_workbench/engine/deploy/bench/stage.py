"""Job stage ``deploy.bench``: the load benchmark, against a server on this machine only.

Given a model spec, it serves it itself (``slmw serve`` in a child process on 127.0.0.1
and a free port, so the server's memory is measured apart from the clients' and the two
never share a GIL), runs each client count in turn, and stops the server. Given a URL,
only a loopback one. Bounded: ``requests`` per client, ``timeout_s`` for the whole job.
Results: ``bench.json`` (the recipe's figures per client count, the speed-up against one client,
the machine's load, the server's threads and parallel) and ``bench.md`` (the table, then those
as lines) in the run's artifacts, one ``metrics`` line per client count.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ....config.deploy_bench import BenchRecipe
from ...errors import ModelNotFoundError, WorkbenchError
from ...preflight.needs import LaunchNeeds
from ...runs.context import RunContext
from . import load

SERVER_START_S = 300.0


def check(recipe: BenchRecipe) -> LaunchNeeds:
    """The launch check: a target that cannot be served is one line before a job starts (a URL off this
    machine; a model, run, variant or adapter that names nothing). What can only fail once loaded (a
    corrupt model file, an adapter trained on another base) still fails in the job, in its server's log."""
    if recipe.target.startswith(("http://", "https://")):
        load.require_loopback(recipe.target)
    else:
        require_servable(recipe.target)
        if recipe.adapters:
            require_adapter_base(recipe.target)
        for adapter in recipe.adapters:
            require_servable(f"{recipe.target}+{adapter}")
    return LaunchNeeds()


def require_adapter_base(entry: str) -> None:
    """``adapters`` need a target that takes them: an adapter base (built on first use) or its folder."""
    from ....config.serve import split_entry
    from ...adapters.base import is_lora_variant, read_lora_base
    from ...chat.locate import resolve_target

    spec = split_entry(entry)[1]
    target = resolve_target(spec)
    if target.kind == "onnx" and (is_lora_variant(target.variant) or
                                  (target.folder is not None and read_lora_base(target.folder) is not None)):
        return
    raise WorkbenchError(f"adapters: {spec} takes no adapters (it is not an adapter base)",
                         hint=f"bench the adapter base instead, e.g. {spec.partition(':')[0]}:lora-int8 "
                              "(built on first use)")


def require_servable(entry: str) -> None:
    """What ``slmw serve ENTRY`` would load exists, without loading it: raises naming what is missing.
    A preset variant not built yet passes (the server builds it), as does the built-in model not
    prepared yet (the CLI prepares it first)."""
    from ....config.presets import PRESETS
    from ....config.serve import split_entry
    from ...adapters.base import is_lora_variant
    from ...adapters.lora import ADAPTER_SUFFIX
    from ...chat.locate import resolve_target
    from ...first_use import model_to_prepare
    from ...model_source import adapter_not_found, find_adapter_run, split_adapter
    from ...models.variants import variant_complete

    spec = split_entry(entry)[1]
    base, adapter = split_adapter(spec)
    if model_to_prepare(base.partition("+")[0]) is not None:
        return
    target = resolve_target(base, adapter=adapter)
    if target.kind == "http":
        raise WorkbenchError(f"cannot serve {spec}: it is an endpoint already",
                             hint="give its URL (http://127.0.0.1:PORT/v1) or a model, a variant, a run or a folder")
    if target.kind == "onnx" and target.variant and target.folder is not None and not variant_complete(target.folder):
        if target.variant not in PRESETS and not is_lora_variant(target.variant):
            raise ModelNotFoundError(f"variant {target.variant} of {base.partition('+')[0].rpartition(':')[0]} is not "
                                     f"built and is not a preset the server can build ({target.folder})",
                                     hint=f"presets: {', '.join(PRESETS)}")
    if target.onnx_adapter:
        named = Path(target.onnx_adapter).expanduser()
        a_file = (named.suffix == ADAPTER_SUFFIX and named.is_file()) or (named / "adapter_config.json").is_file()
        if not a_file and find_adapter_run(target.onnx_adapter).adapter() is None:
            raise adapter_not_found(target.onnx_adapter)


@contextlib.contextmanager
def local_server(recipe: BenchRecipe, log: Path, timeout_s: float) -> Iterator[tuple[str, str, int]]:
    """Serve ``recipe.target`` on 127.0.0.1 (a free port) in a child process: (url, model id, pid)."""
    command = [sys.executable, "-m", "slm_workbench", "serve", recipe.target, "--port", "0", "--json", "--quiet",
               "--parallel", str(recipe.parallel)]
    if recipe.threads:
        command += ["--threads", str(recipe.threads)]
    err = open(log, "a", encoding="utf-8")  # noqa: SIM115 - closed below, after the child
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        deadline = time.monotonic() + timeout_s
        ready: Any = None
        printed = ""  # `slmw serve --json` prints one (indented) object once it listens
        while not isinstance(ready, dict):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or ["no output"]
                raise WorkbenchError(f"the server for {recipe.target} did not start: {tail[0]}", hint=f"see {log}")
            with contextlib.suppress(queue.Empty, ValueError):
                printed += lines.get(timeout=0.2)
                ready = json.loads(printed)
        yield ready["url"], ready["models"][0], proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err.close()


@contextlib.contextmanager
def given_server(recipe: BenchRecipe) -> Iterator[tuple[str, str, int | None]]:
    """A server already running here: its URL, first model, and its pid when it is a local process."""
    from ...chat.http_backend import HttpBackend
    from ...chat.types import DEFAULT_KEY_ENV

    load.require_loopback(recipe.target)
    backend = HttpBackend(recipe.target, api_key_env=recipe.api_key_env or DEFAULT_KEY_ENV, timeout=30)
    yield backend.base_url, backend.model, _listening_pid(backend.base_url)


def _listening_pid(url: str) -> int | None:
    import psutil
    from urllib.parse import urlparse

    port = urlparse(url).port
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return conn.pid
    return None


def run(recipe: BenchRecipe, ctx: RunContext) -> None:
    deadline = time.monotonic() + recipe.timeout_s
    is_url = recipe.target.startswith(("http://", "https://"))
    if is_url:
        server = given_server(recipe)
    else:
        ctx.progress("starting the server", message=f"serving {recipe.target} on 127.0.0.1")
        server = local_server(recipe, ctx.run_dir / "server.log", min(SERVER_START_S, recipe.timeout_s))
    levels: list[load.Level] = []
    with server as (url, model, pid):
        for i, clients in enumerate(recipe.clients):
            ctx.check_cancelled()
            ctx.progress("measuring", i, len(recipe.clients), "client counts", f"{clients} clients",
                         item=f"{clients} clients", item_index=i + 1, item_count=len(recipe.clients))
            level = load.run_level(url, model, clients, requests=recipe.requests, max_tokens=recipe.max_tokens,
                                    prompt=recipe.prompt, deadline=deadline, api_key_env=recipe.api_key_env,
                                    server_pid=pid, cancelled=ctx.cancel_requested.is_set,
                                    alternate=[f"{model}+{adapter}" for adapter in recipe.adapters] or None)
            levels.append(level)
            ctx.metrics({"step": i + 1, **{k: v for k, v in level.as_dict().items() if k != "error_examples"}})
            print(f"[bench] {clients} clients: {level.tok_s_aggregate} tok/s aggregate, {level.errors} errors", flush=True)
        ctx.check_cancelled()
    ctx.progress("measuring", len(recipe.clients), len(recipe.clients), "client counts", "done")
    write_results(ctx, recipe, model, url if is_url else None, levels)


def write_results(ctx: RunContext, recipe: BenchRecipe, model: str, url: str | None, levels: list[load.Level]) -> None:
    out = ctx.artifacts_dir
    out.mkdir(parents=True, exist_ok=True)
    one = next((lv for lv in levels if lv.clients == 1), None)
    report = {
        "target": recipe.target, "model": model, "adapters": recipe.adapters, "url": url, "max_tokens": recipe.max_tokens,
        "requests_per_client": recipe.requests, "parallel": None if url else recipe.parallel,
        "threads": None if url else server_threads(recipe.threads),
        "cpu_count": os.cpu_count(), "load_avg": list(os.getloadavg()),
        "levels": [lv.as_dict() for lv in levels],
        "speedup_vs_1_client": {str(lv.clients): round(lv.tok_s_aggregate / one.tok_s_aggregate, 2)
                                for lv in levels if one and one.tok_s_aggregate and lv.tok_s_aggregate},
    }
    markdown = "\n".join([load.table(levels), "", *load.figure_lines(report)]) + "\n"
    for name, text in (("bench.json", json.dumps(report, indent=2)), ("bench.md", markdown)):
        aside = out / f".{name}.tmp"
        aside.write_text(text, encoding="utf-8")
        aside.replace(out / name)
        ctx.artifact(name.split(".")[0] if name.endswith("json") else "table", out / name)
    print(markdown, end="", flush=True)


def server_threads(asked: int | None) -> int:
    """The CPU threads per generation a server started with ``--threads asked`` runs with: ``asked``, else
    what ``slmw serve`` picks (``default_threads``: all cores but one on a small CPU), else the runtime's
    own default, one per physical core (ONNX Runtime's and PyTorch's)."""
    import psutil

    from ...chat.types import default_threads

    return asked or default_threads() or psutil.cpu_count(logical=False) or os.cpu_count() or 1
