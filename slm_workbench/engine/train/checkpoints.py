"""Which checkpoint a run resumes from.

The Trainer writes ``checkpoint-N/`` in place, ``trainer_state.json`` last (after the
weights, optimizer, scheduler and RNG state). A checkpoint whose ``trainer_state.json`` is
missing or does not parse was being written when the job died: it is never resumed from,
and is removed before training goes on. Older complete checkpoints are kept until a newer
one is complete (the Trainer rotates them only after writing the new one).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def complete_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    found = []
    if not folder.is_dir():
        return found
    for child in folder.iterdir():
        match = _CHECKPOINT.match(child.name)
        if match and is_complete(child):
            found.append((int(match.group(1)), child))
    return sorted(found)


def is_complete(checkpoint: Path) -> bool:
    try:
        json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return any(checkpoint.glob("*.safetensors")) and (checkpoint / "optimizer.pt").is_file()


def latest_checkpoint(folder: Path) -> Path | None:
    complete = complete_checkpoints(folder)
    return complete[-1][1] if complete else None


def remove_incomplete(folder: Path) -> list[str]:
    """Delete checkpoint folders that were never completed (a killed job's last write)."""
    removed = []
    if folder.is_dir():
        for child in folder.iterdir():
            if _CHECKPOINT.match(child.name) and not is_complete(child):
                shutil.rmtree(child, ignore_errors=True)
                removed.append(child.name)
    return removed
