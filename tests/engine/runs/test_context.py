"""RunContext.progress: throttled, but never losing the first word about a new item or the last one."""

from __future__ import annotations

from pathlib import Path

from slm_workbench.engine.events import Progress
from slm_workbench.engine.runs.context import RunContext
from slm_workbench.engine.runs.store import read_events


def test_progress_is_throttled_except_new_items_and_final(tmp_path: Path) -> None:
    ctx = RunContext(tmp_path)
    for done in range(50):  # many updates in a burst: most are dropped
        ctx.progress("int8 (1/2): reading", done, 100, item="int8")
    ctx.progress("int4 (2/2): reading", 0, 100, item="int4")  # a new item always gets through
    ctx.progress("int4 (2/2): done", 100, 100, item="int4")  # so does the final word
    events = [e for e in read_events(tmp_path) if isinstance(e, Progress)]
    assert len(events) < 10
    assert [e.item for e in events[-2:]] == ["int4", "int4"]
    assert events[-2].done == 0 and events[-1].fraction == 1.0
    assert events[0].item == "int8"
