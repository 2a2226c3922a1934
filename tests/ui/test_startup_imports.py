"""The TUI must open without the ML stack: importing it pulls in none of these."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "datasets", "peft", "trl", "onnxruntime", "olive", "accelerate")


def test_ui_and_cli_import_no_ml_stack() -> None:
    code = (
        "import sys, slm_workbench.ui.app, slm_workbench.cli.main;"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the UI imports {out.stdout.strip()}"
