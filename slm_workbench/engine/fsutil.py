"""Folders written aside and renamed into place, so a reader never sees half of one.

Used wherever the workbench writes a folder that other steps load (converted and downloaded
models, exported variants): a failed or interrupted write leaves nothing that looks like the
real thing, and a folder it replaces is kept until the new one is in place.

A writer killed with ``kill -9`` leaves ``.NAME.partial-PID`` (half of the new folder) or, between
the two renames of ``replace_dir``, ``.NAME.old-PID`` (the whole old one). ``remove_dead_leftovers``
finds those whose PID is gone: a partial folder is removed, an old folder whose target is missing
is put back (it is complete: it was in place before), else removed. Writers call it before they
write beside a folder, so leftovers do not pile up.
"""

from __future__ import annotations

import os
import re
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


LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)$")


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_leftovers(parent: Path) -> list[str]:
    """Clean what dead writers left in ``parent`` (see the module docstring); what was done, in words."""
    done: list[str] = []
    if not parent.is_dir():
        return done
    for item in sorted(parent.iterdir()):
        match = LEFTOVER.match(item.name)
        if match is None or pid_alive(int(match["pid"])):
            continue
        target = parent / match["name"]
        if match["kind"] == "old" and not target.exists():
            os.replace(item, target)
            done.append(f"restored {target} (a replacement was killed between its renames)")
        else:
            shutil.rmtree(item, ignore_errors=True) if item.is_dir() else item.unlink(missing_ok=True)
            done.append(f"removed {item} (left by process {match['pid']}, which is gone)")
    return done


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
    remove_dead_leftovers(target.parent)
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
