"""What a stage's launch check returns, and the disk need every data-reading stage shares.

Each stage's launch check is ``check(recipe) -> LaunchNeeds`` in its own ``stage.py``, beside
its runner (the stage registry finds it there); ``check_launch`` runs it. A check raises
``WorkbenchError`` for what no flag can fix (a context too short) and returns disk needs and
refusals that ``--force`` can override. Nothing here imports a stage package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .disk import DATA_EXPANSION, DiskNeed


@dataclass
class LaunchNeeds:
    disk: list[DiskNeed] = field(default_factory=list)
    refusals: list[tuple[str, str]] = field(default_factory=list)
    """(message, hint) for each reason to refuse the launch unless forced."""
    warnings: list[str] = field(default_factory=list)


def raw_data_need(source: Path, target: Path, what: str) -> list[DiskNeed]:
    """A raw data file or folder prepared into ``target``: a multiple of its size (none when it is
    prepared already, or not a local file: ``slmw:demo``, a hub id)."""
    if (source / "manifest.json").is_file() or not source.exists():
        return []
    size = sum(f.stat().st_size for f in source.rglob("*") if f.is_file()) if source.is_dir() else source.stat().st_size
    return [DiskNeed(target, size * DATA_EXPANSION, what)]
