"""RunContext: progress throttled but never losing the first word about an item or the last one;
item states written as they come."""

from __future__ import annotations

from pathlib import Path

from slm_workbench.engine.events import ItemState, Progress
from slm_workbench.engine.runs.context import RunContext
from slm_workbench.engine.runs.store import read_events


def test_progress_is_throttled_except_new_items_and_final(tmp_path: Path) -> None:
    ctx = RunContext(tmp_path)
    for done in range(50):  # many updates in a burst: most are dropped
        ctx.progress("reading", done, 100, item="int8", item_index=1, item_count=2)
    ctx.progress("reading", 0, 100, item="int4", item_index=2, item_count=2)  # a new item always gets through
    ctx.progress("saving", 100, 100, item="int4", item_index=2, item_count=2)  # so does the final word
    events = [e for e in read_events(tmp_path) if isinstance(e, Progress)]
    assert len(events) < 10
    assert [(e.item, e.phase) for e in events[-2:]] == [("int4", "reading"), ("int4", "saving")]
    assert events[-2].done == 0 and events[-1].fraction == 1.0
    assert (events[0].item, events[0].item_index, events[0].item_count) == ("int8", 1, 2)


def test_item_states_are_never_throttled(tmp_path: Path) -> None:
    ctx = RunContext(tmp_path)
    ctx.progress("reading", 1, 10, item="int8")
    ctx.item_state("int8", "built", detail="built in 3 s")
    ctx.item_state("int8", "measured", finished=True)
    states = [e for e in read_events(tmp_path) if isinstance(e, ItemState)]
    assert [(e.item, e.state, e.finished, e.detail) for e in states] == [
        ("int8", "built", False, "built in 3 s"), ("int8", "measured", True, "")]
