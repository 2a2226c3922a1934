"""Disk space: what a job will write, checked before launch, and a full disk explained after.

The estimates are first-order and err high (a refusal can be overridden with ``--force``):

- ``train``: each checkpoint holds the trainable weights and two AdamW states (fp32), the
  Trainer keeps ``save_total_limit`` of them and writes the next before deleting the oldest;
  plus the artifacts (adapter or model, and the merged model when asked for).
- ``export`` / ``compare``: each variant's weights (parameters x bytes per weight), plus the
  fp32 graph that the offset and Olive paths start from, plus a merged model for a run's adapter.
- ``models.prepare``: the fp32 size of the GGUF's parameters.
- ``data.prepare``: a multiple of the source's size (token ids and labels take more than text).
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..units import human_bytes

MARGIN = 1.1
BYTES_PER_WEIGHT = {"fp32": 4.0, "fp16": 2.0, "int8": 1.1, "int4": 0.6}
"""Per parameter, with block scales (and int4's offsets) included."""
DATA_EXPANSION = 6.0
"""Prepared data (int64 ids, labels, Arrow overhead) versus the source file."""


@dataclass(frozen=True)
class DiskNeed:
    folder: Path
    """Where the job writes (the nearest existing folder is measured)."""
    bytes: float
    what: str
    """What takes the space, for the message: ``3 checkpoints + artifacts``."""


def existing_parent(folder: Path) -> Path:
    folder = Path(folder).expanduser().absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def free_bytes(folder: Path) -> int:
    return shutil.disk_usage(existing_parent(folder)).free


def check_disk(stage: str, needs: list[DiskNeed]) -> str | None:
    """A refusal message when a folder has less free space than the job needs there, else None."""
    by_device: dict[Path, tuple[float, list[str]]] = {}
    for need in needs:
        where = existing_parent(need.folder)
        total, whats = by_device.get(where, (0.0, []))
        by_device[where] = (total + need.bytes, [*whats, need.what])
    for where, (needed, whats) in by_device.items():
        needed *= MARGIN
        free = free_bytes(where)
        if free < needed:
            return (f"not enough disk space for this {stage} job in {where}: it writes about {human_bytes(needed)} "
                    f"({', '.join(whats)}), {human_bytes(free)} free")
    return None


NEARLY_FULL = 1_000_000
"""Less free than this where the job writes: a failure there is taken for a full disk (torch.save's
``basic_ios::clear: iostream error`` says nothing more)."""
RESERVE_BYTES = 256 * 1024
"""Held by a running job and given back when it records how it ended, so it can, on a full disk."""


def hold_reserve(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    except OSError:
        return
    try:
        os.posix_fallocate(fd, 0, RESERVE_BYTES)
    except OSError:
        pass  # already short of space, or a file system without fallocate: nothing to hold
    finally:
        os.close(fd)


def release_reserve(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def is_disk_full(exc: BaseException, where: Path | None = None) -> bool:
    """ENOSPC anywhere in the exception chain, a library's own error saying so (safetensors, onnx),
    or any failure while ``where`` is (nearly) out of space."""
    if where is not None:
        try:
            if free_bytes(where) < NEARLY_FULL:
                return True
        except OSError:
            pass
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "no space left on device" in str(current).lower() or "disk quota exceeded" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False


def disk_full_line(exc: BaseException, fallback_folder: Path, *, resume: str | None = None) -> str:
    """One line for a job that ran out of disk: folder, free space, what to do, and how to go on."""
    folder = fallback_folder
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, OSError) and current.filename:
            folder = Path(str(current.filename)).parent
            break
        current = current.__cause__ or current.__context__
    folder = existing_parent(folder)
    try:
        free = human_bytes(free_bytes(folder))
    except OSError:
        free = "?"
    then = f", then `{resume}` to go on where it stopped" if resume else ", then start the job again"
    return f"disk full: no space left in {folder} ({free} free); free some space there{then}"
