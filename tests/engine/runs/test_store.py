"""The run store on hand-made run directories: states, damage, id resolution, removal."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from slm_workbench.engine.errors import RunNotFoundError, StorageError, WorkbenchError
from slm_workbench.engine.events import CorruptLine, Finished, Progress, Started
from slm_workbench.engine.runs import store
from slm_workbench.engine.runs.status import RunStatus, read_status, write_status


@pytest.fixture
def runs(slmw_home: Path) -> store.RunStore:
    return store.RunStore()


def make_run(runs: store.RunStore, run_id: str, **status: object) -> Path:
    run_dir = runs.root / run_id
    run_dir.mkdir(parents=True)
    write_status(run_dir / store.STATUS, RunStatus(id=run_id, stage="system.check", **status))  # type: ignore[arg-type]
    return run_dir


def append_events(run_dir: Path, *lines: str) -> None:
    with open(run_dir / store.EVENTS, "a", encoding="utf-8") as fh:
        fh.writelines(line + "\n" for line in lines)


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(proc.stdout)


def this_process() -> dict[str, object]:
    return {"pid": os.getpid(), "pgid": os.getpgid(0), "proc_start": psutil.Process().create_time()}


def test_create_writes_recipe_status_and_folders(runs):
    run_dir = runs.create("system.check", "stage: system.check\n", title="check")
    assert run_dir.parent == runs.root
    assert (run_dir / store.RECIPE).read_text() == "stage: system.check\n"
    assert (run_dir / store.CHECKPOINTS).is_dir() and (run_dir / store.ARTIFACTS).is_dir()
    status = read_status(run_dir / store.STATUS)
    assert (status.id, status.stage, status.state, status.title) == (run_dir.name, "system.check", "queued", "check")
    assert runs.info(run_dir).state == "queued"  # not launched yet, but within the launch grace
    assert [p.name for p in runs.root.iterdir()] == [run_dir.name]  # no .creating left behind


def test_create_in_unwritable_home_is_one_storage_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SLMW_HOME", str(blocker / "home"))
    with pytest.raises(StorageError) as exc:
        store.RunStore().create("system.check", "stage: system.check\n")
    message = str(exc.value)
    assert str(blocker / "home" / "runs") in message and "\n" not in message


def test_queued_run_never_launched_becomes_interrupted(runs):
    run_dir = make_run(runs, "old-queued", created=time.time() - store.LAUNCH_GRACE_S - 1)
    assert runs.info(run_dir).state == "interrupted"


def test_running_with_dead_pid_is_interrupted_unless_it_finished(runs, dead_pid):
    crashed = make_run(runs, "crashed", state="running", pid=dead_pid, pgid=dead_pid)
    append_events(crashed, Started(stage="system.check", pid=dead_pid, host="h").to_json())
    assert runs.info(crashed).state == "interrupted"
    assert not runs.info(crashed).alive

    # The worker wrote finished(done) but died before updating status.json.
    finished = make_run(runs, "finished", state="running", pid=dead_pid, pgid=dead_pid)
    append_events(finished, Finished(outcome="done").to_json())
    assert runs.info(finished).state == "done"


def test_a_reused_pid_is_not_mistaken_for_the_job(runs):
    me = this_process()
    alive = make_run(runs, "alive", state="running", **me)
    assert runs.info(alive).state == "running" and runs.info(alive).alive
    reused = make_run(runs, "reused", state="running", **{**me, "proc_start": float(me["proc_start"]) - 3600})
    assert runs.info(reused).state == "interrupted"


def test_another_hosts_run_keeps_its_state(runs, dead_pid):
    run_dir = make_run(runs, "remote", state="running", pid=dead_pid, host=socket.gethostname() + "-other")
    assert runs.info(run_dir).state == "running"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{", "not valid JSON"),
        ("", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        ('["id", "stage"]', "not a run status"),
        ('{"id": "x"}', "not a run status"),
        ('{"id": "x", "stage": "s", "state": "running", "pid": "abc"}', "pid"),
        ('{"id": "x", "stage": "s", "state": "running", "created": "yesterday"}', "created"),
        ('{"id": "x", "stage": "s", "state": "exploded"}', "state"),
        (None, "status.json"),  # a folder where the file should be
    ],
)
def test_corrupt_status_is_listed_as_corrupt_never_raised(runs, content, why):
    good = make_run(runs, "20250101-000000-good", state="done")
    bad = runs.root / "20250101-000001-bad"
    bad.mkdir()
    if content is None:
        (bad / store.STATUS).mkdir()
    elif isinstance(content, bytes):
        (bad / store.STATUS).write_bytes(content)
    else:
        (bad / store.STATUS).write_text(content)

    listed = {info.id: info for info in runs.list()}

    assert listed[good.name].state == "done"
    info = listed[bad.name]
    assert info.state == "corrupt" and info.status is None
    assert str(bad / store.STATUS) in info.problem and why in info.problem
    assert "\n" not in info.problem
    assert not info.alive


def test_run_without_status_is_corrupt_and_hidden_folders_are_skipped(runs):
    (runs.root / "stray").mkdir(parents=True)
    (runs.root / ".20250101-x.creating").mkdir()
    [info] = runs.list()
    assert (info.id, info.state) == ("stray", "corrupt")
    assert "missing" in info.problem


def test_list_is_newest_first_and_empty_without_a_runs_folder(runs):
    assert runs.list() == []
    for run_id in ("20250101-000000-a", "20250301-000000-c", "20250201-000000-b"):
        make_run(runs, run_id, state="done")
    assert [info.id for info in runs.list()] == ["20250301-000000-c", "20250201-000000-b", "20250101-000000-a"]


def test_corrupt_event_line_is_reported_by_number_and_the_rest_decode(runs):
    run_dir = make_run(runs, "events", state="done")
    append_events(
        run_dir,
        Started(stage="system.check", pid=1, host="h").to_json(),
        Progress(phase="measuring", done=1, total=2).to_json(),
        '{"kind": "progress", "phase": "meas',  # torn write
        "",
        Finished(outcome="done").to_json(),
    )
    events = store.read_events(run_dir)
    assert [e.kind for e in events] == ["started", "progress", "corrupt", "finished"]
    corrupt = events[2]
    assert isinstance(corrupt, CorruptLine)
    assert corrupt.line_no == 3 and corrupt.path == str(run_dir / store.EVENTS)
    assert "line 3" in corrupt.summary()
    assert runs.info(run_dir).state == "done"


def test_resolve_by_full_id_unique_prefix_and_suffix(runs):
    a = make_run(runs, "20250101-120000-system-check-aaaa")
    b = make_run(runs, "20250101-130000-models-prepare-bbbb")
    assert runs.resolve(a.name) == a
    assert runs.resolve("20250101-12") == a
    assert runs.resolve("bbbb") == b
    assert runs.get("20250101-13").id == b.name


def test_resolve_ambiguous_names_the_matches(runs):
    a = make_run(runs, "20250101-120000-system-check-aaaa")
    b = make_run(runs, "20250101-130000-system-check-bbbb")
    with pytest.raises(RunNotFoundError) as exc:
        runs.resolve("20250101")
    assert "matches 2 runs" in exc.value.message
    assert a.name in exc.value.message and b.name in exc.value.message


@pytest.mark.parametrize("query", ["nope", "", "../runs", "20250101-120000-system-check-aaaa/"])
def test_resolve_missing_raises_run_not_found(runs, query):
    make_run(runs, "20250101-120000-system-check-aaaa")
    with pytest.raises(RunNotFoundError) as exc:
        runs.resolve(query)
    assert f"'{query}'" in exc.value.message


def test_resolve_without_any_runs(runs):
    with pytest.raises(RunNotFoundError, match="no run 'x'"):
        runs.get("x")


def test_rm_refuses_a_live_run_and_removes_a_finished_one(runs):
    live = make_run(runs, "live", state="running", **this_process())
    with pytest.raises(WorkbenchError, match="still running"):
        runs.remove("live")
    assert live.is_dir()
    finished = make_run(runs, "finished", state="done")
    assert runs.remove("fini") == "finished"
    assert not finished.exists()
    assert runs.remove("live", force=True) == "live"
    assert not live.exists()


def test_update_status_is_atomic_and_keeps_other_fields(runs):
    run_dir = make_run(runs, "update", title="keep me")
    status = store.update_status(run_dir, state="running", pid=123)
    assert (status.state, status.pid, status.title) == ("running", 123, "keep me")
    on_disk = json.loads((run_dir / store.STATUS).read_text())
    assert (on_disk["state"], on_disk["pid"], on_disk["title"]) == ("running", 123, "keep me")
    assert not list(run_dir.glob(".status.json.*.tmp"))


def test_status_field_types_cover_every_field():
    from dataclasses import fields

    from slm_workbench.engine.runs import status

    assert set(status._FIELD_TYPES) == {f.name for f in fields(RunStatus)}
