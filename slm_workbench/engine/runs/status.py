"""``status.json``: a run's state, process and times, written atomically.

The file says what the job last wrote. Whether that is still true (is the pid alive?) is
decided by ``store.effective_state``, so a job killed with -9 reads as ``interrupted`` (or
``cancelled`` when a stop had been asked for).
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Literal

from ..errors import CorruptRunFileError

State = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
TERMINAL_STATES: frozenset[str] = frozenset({"done", "failed", "cancelled", "interrupted"})
ACTIVE_STATES: frozenset[str] = frozenset({"queued", "running"})


@dataclass
class RunStatus:
    id: str
    stage: str
    state: State = "queued"
    title: str = ""
    pid: int | None = None
    pgid: int | None = None
    host: str = field(default_factory=socket.gethostname)
    proc_start: float | None = None
    """The process's creation time (psutil), so a reused pid is not mistaken for the job."""
    created: float = field(default_factory=time.time)
    launched: float | None = None
    """When the launcher last started a process for it (a resumed run is launched again)."""
    started: float | None = None
    ended: float | None = None
    message: str = ""
    stop_requested: float | None = None
    """When a stop was asked for (``slmw runs stop``, the Runs pane): a job that dies before it can
    answer (a stop in its first milliseconds) still reads as ``cancelled``."""


def write_status(path: Path, status: RunStatus) -> None:
    """Write aside and rename into place: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(asdict(status), fh, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,), "stage": (str,), "state": (str,), "title": (str,), "host": (str,), "message": (str,),
    "pid": (int, type(None)), "pgid": (int, type(None)),
    "proc_start": (int, float, type(None)), "created": (int, float),
    "started": (int, float, type(None)), "ended": (int, float, type(None)), "launched": (int, float, type(None)),
    "stop_requested": (int, float, type(None)),
}
"""What each field may hold in the file: a wrong type would otherwise break every reader later."""


def read_status(path: Path) -> RunStatus:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptRunFileError(f"{path}: missing (not a run directory?)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptRunFileError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise CorruptRunFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not isinstance(raw, dict) or "id" not in raw or "stage" not in raw:
        raise CorruptRunFileError(f"{path}: not a run status (needs 'id' and 'stage')")
    known = {f.name for f in fields(RunStatus)}
    values = {k: v for k, v in raw.items() if k in known}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, _FIELD_TYPES[name]):
            raise CorruptRunFileError(f"{path}: bad value for '{name}': {value!r}")
    if values.get("state", "queued") not in ACTIVE_STATES | TERMINAL_STATES:
        raise CorruptRunFileError(f"{path}: unknown state {values['state']!r}")
    return RunStatus(**values)
