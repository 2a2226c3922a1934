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


FIRST_FRAME_LATER = ("psutil", "yaml", "pydantic", "plotext", "slm_workbench.engine.events", "slm_workbench.engine.system",
                     "slm_workbench.engine.runs.follow", "slm_workbench.ui.widgets.run_detail", "rich._emoji_codes",
                     "slm_workbench.engine.runs.store", "slm_workbench.ui.widgets.run_table", "textual.widgets._data_table")
"""Modules the first frame does not need: imported after it (bench/startup.py measures the frame)."""


def test_the_first_frame_imports_only_what_it_shows() -> None:
    code = (
        "import sys, slm_workbench.cli.main, slm_workbench.ui.app, slm_workbench.ui.screens.runs_pane;"
        "from slm_workbench.ui.app import make_app; make_app();"
        f"print(','.join(m for m in {FIRST_FRAME_LATER!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported before the first frame: {out.stdout.strip()}"
