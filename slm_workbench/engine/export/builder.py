"""The ONNX Runtime GenAI model builder, driven as ``python -m onnxruntime_genai.models.builder``.

It runs in a child process (its imports and memory stay out of the job, and a stop ends it),
reads the HF folder offline, writes ``genai_config.json`` + ``model.onnx`` (+ data) + the
tokenizer files, and keeps its scratch files in ``cache_dir`` (inside the run directory).

Its ``--help`` crashes in 0.18 (a ``%`` in a help string), so the options used here were
read from its source: ``-i/-o/-p/-e/-c`` and ``--extra_options KEY=VALUE ...`` with
``block_size``, ``accuracy_level``, ``is_symmetric``, ``shared_embeddings`` ...

It runs through ``builder_compat`` (a patch for Gemma 3's RoPE layout under transformers 5). A
model with sliding-window layers (Gemma 3: 5 local layers of 512 tokens for each global one) is
built with ``windowed_kv_cache=false``: the builder's default on CPU gives those layers
window-sized caches, and the runtime 0.18 then refuses any generation whose ``max_length`` is under
the window ("KV cache capacity (38) must be at least local_window_size (512)"), which is every
short answer, the variant check (``max_length=8``) included. Without it, those layers keep
``max_length`` caches and attention still masks to the window (GQA's ``local_window_size``).
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
    cmd = [sys.executable, "-m", "slm_workbench.engine.export.builder_compat", "-i", str(source), "-o", str(out),
           "-p", precision, "-e", execution_provider, "-c", str(cache_dir)]
    if options:
        cmd += ["--extra_options", *(f"{k}={v}" for k, v in options.items())]
    return cmd


def _config(source: Path) -> dict:
    import json

    try:
        config = json.loads((source / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def num_layers(source: Path) -> int:
    try:
        return int(_config(source)["num_hidden_layers"])
    except (KeyError, TypeError, ValueError):
        return 0


def model_options(source: Path) -> dict[str, str]:
    """Builder options the model itself calls for (see the module docstring)."""
    config = _config(source)
    layer_types = config.get("layer_types") or []
    window = config.get("sliding_window")
    if isinstance(window, int) and window > 0 and "sliding_attention" in layer_types:
        return {"windowed_kv_cache": "false"}
    return {}


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

    cmd = builder_command(source, out, precision, execution_provider, cache_dir, {**model_options(source), **(options or {})})
    run_logged(cmd, log, what=f"the model builder ({precision}, {execution_provider})", env=child_env(threads),
               cwd=cache_dir.parent, check_cancelled=check_cancelled, on_line=on_line)
    return out
