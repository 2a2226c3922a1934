"""Following a run until it ends: its events and, when asked, its log (what ``slmw … --follow`` prints)."""

from __future__ import annotations

from pathlib import Path

from slm_workbench.engine.events import Finished, Progress
from slm_workbench.engine.runs.context import RunContext
from slm_workbench.engine.runs.follow import follow_events, follow_run
from slm_workbench.engine.runs.run import Run
from slm_workbench.engine.runs.store import RunStore, update_status


def test_follow_run_yields_events_and_log_until_the_run_ends(slmw_home: Path) -> None:
    run_dir = RunStore().create("system.check", "stage: system.check\n")
    ctx = RunContext(run_dir)
    ctx.progress("checking", 1, 2)
    ctx.emit(Finished(outcome="done"))
    Run(run_dir).log_path.write_text("[system.check] hello\n", encoding="utf-8")
    update_status(run_dir, state="done")

    (info, events, log), = list(follow_run(run_dir, log=True, poll=0))
    assert info.state == "done" and [type(e) for e in events] == [Progress, Finished]
    assert log == ["[system.check] hello"]
    (_, no_log), = [(i, lg) for i, _e, lg in follow_run(run_dir, poll=0)]
    assert no_log == []
    assert [[type(e) for e in ev] for _i, ev in follow_events(run_dir, poll=0)] == [[Progress, Finished]]
