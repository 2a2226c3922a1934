"""The ONNX Runtime GenAI model builder, driven as ``python -m onnxruntime_genai.models.builder``.

It runs in a child process (its imports and memory stay out of the job, and a stop ends it),
reads the HF folder offline, writes ``genai_config.json`` + ``model.onnx`` (+ data) + the
tokenizer files, and keeps its scratch files in ``cache_dir`` (inside the run directory).

Its ``--help`` crashes in 0.18 (a ``%`` in a help string), so the options used here were
read from its source: ``-i/-o/-p/-e/-c`` and ``--extra_options KEY=VALUE ...`` with
``block_size``, ``accuracy_level``, ``is_symmetric``, ``shared_embeddings`` ...
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from .subproc import child_env, run_logged

ProgressFn = Callable[[str, float, float], None]
_LAYER = re.compile(r"^Reading layer (\d+)")


def builder_command(source: Path, out: Path, precision: str, execution_provider: str, cache_dir: Path,
                    options: dict[str, str]) -> list[str]:
    cmd = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(source), "-o", str(out),
           "-p", precision, "-e", execution_provider, "-c", str(cache_dir)]
    if options:
        cmd += ["--extra_options", *(f"{k}={v}" for k, v in options.items())]
    return cmd


def num_layers(source: Path) -> int:
    import json

    try:
        return int(json.loads((source / "config.json").read_text())["num_hidden_layers"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def run_builder(
    source: Path,
    out: Path,
    *,
    precision: str,
    execution_provider: str = "cpu",
    options: dict[str, str] | None = None,
    cache_dir: Path,
    log: Path,
    check_cancelled: Callable[[], None] = lambda: None,
    on_progress: ProgressFn = lambda message, done, total: None,
    threads: int | None = None,
) -> Path:
    layers = num_layers(source) or 1
    total = layers + 2.0

    def on_line(line: str) -> None:
        match = _LAYER.match(line)
        if match:
            on_progress(f"reading layer {match.group(1)}", int(match.group(1)) + 1, total)
        elif line.startswith("Reading LM head"):
            on_progress("quantizing and saving" if precision.startswith("int") else "saving", layers + 1, total)
        elif line.startswith("Saving GenAI config"):
            on_progress("writing genai_config.json", total, total)

    cmd = builder_command(source, out, precision, execution_provider, cache_dir, options or {})
    run_logged(cmd, log, what=f"the model builder ({precision}, {execution_provider})", env=child_env(threads),
               cwd=cache_dir.parent, check_cancelled=check_cancelled, on_line=on_line)
    return out
