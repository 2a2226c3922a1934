"""Where the workbench keeps its files.

Everything lives under one home folder: ``$SLMW_HOME`` when set (tests and scripts rely on
it), else ``$XDG_DATA_HOME/slm-workbench`` (``~/.local/share/slm-workbench``)::

    <home>/models/<name>/   prepared HF folders (converted from GGUF, downloaded...)
    <home>/runs/<id>/       one directory per job: the contract between jobs and views
    <home>/cache/           anything that can be rebuilt
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from .errors import StorageError


def home() -> Path:
    env = os.environ.get("SLMW_HOME")
    if env:
        return Path(env).expanduser().resolve()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "slm-workbench"


def models_dir() -> Path:
    return home() / "models"


def runs_dir() -> Path:
    return home() / "runs"


def cache_dir() -> Path:
    return home() / "cache"


def ensure_writable_dir(path: Path, what: str = "folder") -> Path:
    """Create ``path`` if needed and prove it is writable, or raise one clear StorageError."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-", delete=True):
            pass
    except OSError as exc:
        raise StorageError(
            f"cannot write the {what} {path}: {describe_os_error(exc)}",
            hint="set SLMW_HOME to a writable folder" if what.startswith("workbench") else None,
        ) from exc
    return path


def describe_os_error(exc: OSError) -> str:
    """A short, human reason for an OSError (no errno numbers, no traceback)."""
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno == errno.ENOENT:
        return "no such file or directory"
    return exc.strerror or str(exc)
