"""Build a missing preset variant on demand, so ``slmw chat MODEL:int4`` just works.

This is the shortest path to a variant folder in the shared layout: the ONNX Runtime
GenAI model builder, run offline in a subprocess, into a folder written aside and renamed.
The export engine (``slmw export``) builds the same folders with more options, checks
and a comparison; any variant name that is not a plain precision is left to it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .. import paths
from ..errors import WorkbenchError
from ..models.variants import VARIANT_INFO_FILE

PRESETS = ("fp32", "fp16", "bf16", "int8", "int4")


def build_variant(source: Path, variant: str, out: Path, *, on_line: Callable[[str], None] | None = None,
                  timeout: float = 1800) -> Path:
    """Export the HF folder ``source`` to ``out`` at precision ``variant`` (CPU execution provider)."""
    if variant not in PRESETS:
        raise WorkbenchError(f"variant {variant} cannot be built on demand (presets: {', '.join(PRESETS)})",
                             hint=f"build it with `slmw export` and name it {variant}")
    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    paths.ensure_writable_dir(out.parent, "variants folder")
    cache = paths.cache_dir() / "ort-builder"
    cmd = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-m", str(source), "-o", str(tmp),
           "-p", variant, "-e", "cpu", "-c", str(cache)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    started = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        tail = (tail + [line.rstrip()])[-20:]
        if on_line is not None and line.strip():
            on_line(line.rstrip())
    code = proc.wait(timeout=timeout)
    if code != 0 or not (tmp / "genai_config.json").is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        raise WorkbenchError(f"building {variant} from {source} failed (exit {code}): {' | '.join(tail[-3:])}")
    info = {"variant": variant, "precision": variant, "execution_provider": "cpu", "source": str(source),
            "built_by": "slmw chat (on demand)", "seconds": round(time.time() - started, 1),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (tmp / VARIANT_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    shutil.rmtree(cache, ignore_errors=True)
    return out
