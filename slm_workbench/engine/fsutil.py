"""Folders written aside and renamed into place, so a reader never sees half of one.

Used wherever the workbench writes a folder that other steps load (converted and downloaded
models, exported variants): a failed or interrupted write leaves nothing that looks like the
real thing, and a folder it replaces is kept until the new one is in place.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import StorageError
from .paths import describe_os_error


def replace_dir(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``; an existing ``target`` is moved aside first, then removed.

    When the second rename fails, the old ``target`` is put back.
    """
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        if old.exists():
            os.replace(old, target)
        raise
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    elif old.exists() or old.is_symlink():
        old.unlink()


def partial_dir(target: Path) -> Path:
    """Where ``target`` is built; the pid lets a later run tell a dead writer's leftovers."""
    return target.parent / f".{target.name}.partial-{os.getpid()}"


@contextmanager
def built_aside(target: Path, what: str) -> Iterator[Path]:
    """Yield an empty folder beside ``target``; on success it replaces ``target``.

    On any failure the partial folder is removed; an OSError (disk full, permissions) becomes
    a StorageError naming ``what`` and ``target``.
    """
    partial = partial_dir(target)
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir(parents=True)
        yield partial
        replace_dir(partial, target)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise StorageError(f"{what} {target} failed: {describe_os_error(exc)}") from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
