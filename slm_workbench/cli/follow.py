"""Follow a running job from the shell: print its events and log as they are appended.

What is followed and when it ends is ``engine/runs/follow.py``'s ``follow_run``; this module prints.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..engine.events import CorruptLine, Event, Progress
from ..engine.runs import store
from ..engine.runs.follow import follow_run


def follow(run_dir: Path, *, show_log: bool = False, poll: float = 0.3) -> store.RunInfo:
    """Print new events (and log lines) until the run ends; Ctrl-C detaches, the job goes on."""
    try:
        for info, events, log in follow_run(run_dir, log=show_log, poll=poll):
            for event in events:
                print(_line(event), flush=True)
            for line in log:
                print(f"  | {line}", flush=True)
        return info
    except KeyboardInterrupt:
        print(f"\ndetached; the job goes on. Follow it again: slmw runs logs {run_dir.name} -f", file=sys.stderr)
        raise SystemExit(0) from None


def _line(event: Event | CorruptLine) -> str:
    if isinstance(event, CorruptLine):
        return f"! {event.summary()}"
    stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
    if isinstance(event, Progress) and event.fraction is not None:
        return f"{stamp} [{event.fraction * 100:5.1f}%] {event.summary()}"
    return f"{stamp} {event.summary()}"
