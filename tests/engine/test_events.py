"""The events codec: every event survives a round trip; a bad line becomes a CorruptLine."""

from __future__ import annotations

import json

import pytest

from slm_workbench.engine.events import (
    Artifact,
    Checkpoint,
    CorruptLine,
    Error,
    Finished,
    Progress,
    Started,
    Warning,
    decode_event,
    decode_metrics,
)

ALL_EVENTS = [
    Started(stage="system.check", pid=42, host="box"),
    Progress(phase="measuring", done=1, total=4, unit="s", message="fast"),
    Checkpoint(path="checkpoints/step-10", step=10),
    Artifact(name="model", path="/m", description="HF folder"),
    Warning(message="careful"),
    Error(message="boom", hint="try again"),
    Finished(outcome="done"),
]


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.kind)
def test_round_trip(event):
    line = event.to_json()
    assert json.loads(line)["kind"] == event.kind
    assert decode_event(line) == event


def test_unknown_fields_are_ignored_so_old_readers_accept_new_writers():
    line = json.dumps({"kind": "finished", "outcome": "done", "time": 1.0, "added_later": [1, 2]})
    assert decode_event(line) == Finished(outcome="done", time=1.0)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"kind": "telepathy"}', "unknown event kind"),
        ('{"kind": ["finished"]}', "unknown event kind"),
        ('{"kind": "started", "stage": "x"}', "bad fields"),
        ('{"kind": "finished", "outcome": "done", "time": "yesterday"}', "time"),
        ('{"kind": "finished", "outcome": "exploded"}', "outcome"),
    ],
)
def test_bad_line_becomes_corrupt_line_naming_file_and_line(line, reason):
    decoded = decode_event(line, path="runs/x/events.jsonl", line_no=7)
    assert isinstance(decoded, CorruptLine)
    assert reason in decoded.reason
    assert "line 7 of runs/x/events.jsonl" in decoded.summary()


def test_progress_fraction_and_summary():
    assert Progress(phase="p", done=5, total=10).fraction == 0.5
    assert Progress(phase="p", done=50, total=10).fraction == 1.0
    assert Progress(phase="p", done=5).fraction is None
    assert Progress(phase="download", done=1, total=2, unit="files").summary() == "download 1/2 files"


def test_decode_metrics():
    assert decode_metrics('{"step": 1, "loss": 2.5}') == {"step": 1, "loss": 2.5}
    bad = decode_metrics("nan nan", path="metrics.jsonl", line_no=3)
    assert isinstance(bad, CorruptLine) and bad.line_no == 3
