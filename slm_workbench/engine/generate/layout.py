"""What a ``data.generate`` run leaves in its output folder (``artifacts/generated`` unless the
recipe names another): the names its readers (the distillation, the Distill pane, the CLI) use."""

from __future__ import annotations

GENERATED_DIR = "generated"
"""The ``data.generate`` run's default output folder, under its ``artifacts``."""
GENERATED_ROWS = "rows.jsonl"
"""Every answer with its verdict, one JSON object per line (the resume state of a generation)."""
GENERATED_DATA = "data.jsonl"
"""The kept rows as a chat dataset (``{"messages": [...]}`` per line): what the student trains on."""
GENERATED_MANIFEST = "manifest.json"
