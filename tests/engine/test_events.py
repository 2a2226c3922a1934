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
    ItemState,
    Progress,
    Started,
    Warning,
    decode_event,
    decode_metrics,
)

ALL_EVENTS = [
    Started(stage="system.check", pid=42, host="box"),
    Progress(phase="measuring", done=1, total=4, unit="s", message="fast"),
    Progress(phase="perplexity", done=3, total=30, unit="steps", item="int8", item_index=2, item_count=4),
    ItemState(item="int4", state="broken", finished=True, detail="perplexity 212x the reference"),
    Checkpoint(path="checkpoints/step-10", step=10),
    Artifact(name="model", path="/m", description="HF folder"),
    Warning(message="careful"),
    Error(message="boom", hint="try again"),
    Finished(outcome="done"),
]


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: f"{e.kind}-{ALL_EVENTS.index(e)}")
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


def test_lines_from_before_the_item_fields_still_decode():
    """Runs written before item_index/item_count replay: missing fields default, and the position an
    old job wrote into the phase (``int8 (2/4): perplexity``) is read into the fields."""
    old = decode_event(json.dumps({"kind": "progress", "phase": "int8 (2/4): perplexity", "done": 3, "total": 30,
                                   "unit": "steps", "message": "", "item": "int8", "time": 5.0}))
    assert old == Progress(phase="perplexity", done=3, total=30, unit="steps", item="int8", item_index=2,
                           item_count=4, time=5.0)
    older = decode_event('{"kind": "progress", "phase": "training", "done": 1, "total": 2, "time": 1.0}')
    assert older == Progress(phase="training", done=1, total=2, time=1.0)
    assert older.item == "" and older.item_index is None
    # a phase that merely looks like one is left alone unless it names the event's own item
    other = decode_event('{"kind": "progress", "phase": "fp32 (1/2): reading", "item": "int8", "time": 1.0}')
    assert other.phase == "fp32 (1/2): reading" and other.item_index is None


def test_progress_summary_names_the_item_and_its_place():
    event = Progress(phase="perplexity", done=3, total=30, unit="steps", item="int8", item_index=2, item_count=4)
    assert event.summary() == "int8 (2/4): perplexity 3/30 steps"
    assert Progress(phase="loading", item="int4").summary() == "int4: loading"
    assert ItemState(item="int8", state="built", detail="already built").summary() == "int8: built (already built)"
    assert ItemState(item="int4", state="broken").broken and not ItemState(item="int8", state="built").broken
