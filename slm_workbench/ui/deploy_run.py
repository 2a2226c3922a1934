"""What the Deploy pane reads of the run it follows, from the run's files only (no Textual).

The view of a run is picked by what its stage produces (the registry's ``produces``): a
package (``package.json`` and ``smoke.json``, or the folder a ``gguf`` artifact names with its
``gguf.json``), a server (``server.json`` and the request log, tailed: each read returns the
lines appended since the previous one, all of them after a change of run), a measurement (the
benchmark's planned client counts, from its recipe). Every read also gives the run's state,
whether its process lives, its last progress and its newest metrics rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..engine import stages

TABLE_ROWS = 50
REQUEST_REPLAY_BYTES = 256 * 1024
"""Of a long request log, a view attaching to a server shows this much of the end."""


def produced_by(stage: str) -> frozenset[str]:
    """What a stage gives (the registry's ``produces``), which picks the view of its runs."""
    spec = stages.find_stage(stage)
    return spec.produces if spec else frozenset()


class DeployRunReader:
    """One followed run at a time; keeps the request log's reading position between reads."""

    def __init__(self) -> None:
        self._requests: Any = None  # FileTail of the followed server's request log

    def read(self, run_dir: Path) -> dict[str, Any]:
        """``DeployRead``'s fields for ``run_dir``."""
        out = read_run(run_dir)
        if "server" in produced_by(out["stage"]):
            from ..engine.serve.run_files import request_tail

            out["requests_reset"] = self._requests is None or self._requests.path.parent != run_dir
            if out["requests_reset"]:
                self._requests = request_tail(run_dir)
                self._requests.seek_tail(REQUEST_REPLAY_BYTES)
            out["requests"] = self._requests.read_new()
        return out


def read_run(run_dir: Path) -> dict[str, Any]:
    """The followed run's state, last progress, metrics rows, and what its stage leaves: a package
    and its smoke verdict, a GGUF's folder and manifest, a server's address, a benchmark's plan."""
    from ..engine.events import Artifact, Progress
    from ..engine.runs.run import Run

    run = Run(run_dir)
    events = run.events()
    progress = [e for e in events if isinstance(e, Progress)]
    error = run.last_error()
    activity = ""
    if progress:
        p = progress[-1]
        activity = p.phase + (f" {p.done:g}/{p.total:g} {p.unit}".rstrip() if p.total else "")
    rows = [{k: v for k, v in row.items() if k != "time"} for row in run.metrics(last=TABLE_ROWS)]
    info = run.info()
    produces = produced_by(run.stage)
    out: dict[str, Any] = {"stage": run.stage, "state": info.state, "alive": info.alive, "activity": activity,
                           "item_index": progress[-1].item_index if progress else None,
                           "rows": rows, "error": error.message if error else ""}
    if "package" in produces:
        out |= {"smoke": _json(run.artifact("smoke.json")), "package": _json(run.artifact("package.json")),
                "gguf": _gguf(next((Path(e.path) for e in reversed(events)
                                    if isinstance(e, Artifact) and e.name == "gguf"), None))}
    if "server" in produces:
        from ..engine.serve.run_files import read_server_file

        out["server"] = read_server_file(run_dir)
    if "measurement" in produces:
        clients = run.recipe_data().get("clients")
        out["planned_clients"] = [n for n in clients if isinstance(n, int)] if isinstance(clients, list) else []
    return out


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _gguf(model_file: Path | None) -> dict[str, Any] | None:
    """The folder a GGUF was written to: its files with their sizes, and its ``gguf.json``."""
    if model_file is None:
        return None
    folder = model_file.parent
    try:
        files = sorted((p.name, p.stat().st_size) for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError:
        files = []
    return {"folder": str(folder), "files": files, "manifest": _json(folder / "gguf.json")}
