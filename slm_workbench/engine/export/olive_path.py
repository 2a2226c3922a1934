"""The second export path: Olive's RTN int4 pass over the builder's fp32 graph.

What was measured with olive-ai 0.13 and onnxruntime-genai 0.18, offline:
- ``olive capture-onnx-graph --use_model_builder`` only works with onnxruntime-genai 0.14.1,
  so the fp32 graph comes from our builder call and Olive only quantizes it;
- ``olive quantize --algorithm rtn --precision int4`` on that folder works, but renames the
  graph's ``logits`` output to ``logits_Q4`` while copying ``genai_config.json`` unchanged,
  so GenAI cannot find its logits: the config is pointed at the real output name here;
- Olive exits 0 even when a pass fails, so the output is checked, not the exit code;
- it keeps an ``.olive-cache`` (as large as the model) in its working directory: it runs in
  a scratch folder of the job's run directory, removed afterwards;
- ``olive optimize`` / ``auto-opt`` int4 fetch a hub calibration set and fail offline.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import WorkbenchError
from .subproc import child_env, run_logged


def olive_command(fp32_dir: Path, out: Path, *, algorithm: str = "rtn", precision: str = "int4") -> list[str]:
    return [sys.executable, "-m", "olive", "quantize", "-m", str(fp32_dir), "--algorithm", algorithm,
            "--precision", precision, "-o", str(out), "--disable_telemetry", "--log_level", "3"]


def fix_logits_name(folder: Path) -> str | None:
    """Point genai_config's logits at the graph's real output; returns the name when it changed."""
    import onnx

    model = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    outputs = [o.name for o in model.graph.output]
    config_path = folder / "genai_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    wanted = config["model"]["decoder"]["outputs"].get("logits", "logits")
    if wanted in outputs:
        return None
    candidates = [o for o in outputs if o.startswith("logits")]
    if len(candidates) != 1:
        raise WorkbenchError(f"Olive's model in {folder} has no logits output (outputs: {', '.join(outputs[:4])} ...)")
    config["model"]["decoder"]["outputs"]["logits"] = candidates[0]
    config_path.write_text(json.dumps(config, indent=4) + "\n", encoding="utf-8")
    return candidates[0]


def run_olive_rtn(
    fp32_dir: Path,
    out: Path,
    *,
    scratch: Path,
    log: Path,
    check_cancelled: Callable[[], None] = lambda: None,
    threads: int | None = None,
) -> list[str]:
    """Quantize ``fp32_dir`` into ``out``; returns notes about what had to be fixed."""
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        run_logged(olive_command(fp32_dir, out), log, what="olive quantize (rtn int4)", cwd=scratch,
                   env=child_env(threads), check_cancelled=check_cancelled)
    finally:
        shutil.rmtree(scratch / ".olive-cache", ignore_errors=True)
    if not (out / "model.onnx").is_file() or not (out / "genai_config.json").is_file():
        raise WorkbenchError("olive quantize exited 0 but wrote no model (a pass failed)", hint=f"see {log}")
    notes = []
    renamed = fix_logits_name(out)
    if renamed:
        notes.append(f"Olive renamed the logits output to {renamed}; genai_config.json was pointed at it")
    for stray in ("model_config.json",):
        (out / stray).unlink(missing_ok=True)
    return notes
