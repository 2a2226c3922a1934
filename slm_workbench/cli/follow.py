"""Follow a running job from the shell: print its events and log as they are appended."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..engine.events import CorruptLine, Event, Progress, decode_event
from ..engine.runs import store
from ..engine.runs.status import TERMINAL_STATES
from ..engine.runs.tail import FileTail, text_tail


def follow(run_dir: Path, *, show_log: bool = False, poll: float = 0.3) -> store.RunInfo:
    """Print new events (and log lines) until the run ends; Ctrl-C detaches, the job goes on."""
    run_store = store.RunStore(run_dir.parent)
    events: FileTail[Event | CorruptLine] = FileTail(
        run_dir / store.EVENTS, lambda text, n: decode_event(text, path=str(run_dir / store.EVENTS), line_no=n)
    )
    log = text_tail(run_dir / store.LOG)
    try:
        while True:
            info = run_store.info(run_dir)
            for event in events.read_new():
                print(_line(event), flush=True)
            if show_log:
                for line in log.read_new():
                    print(f"  | {line}", flush=True)
            if info.state in TERMINAL_STATES or info.state == "corrupt":
                for event in events.read_new():
                    print(_line(event), flush=True)
                return info
            time.sleep(poll)
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
