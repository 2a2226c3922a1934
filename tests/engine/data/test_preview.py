"""The Data pane's preview, read as a full pass reads it."""

from __future__ import annotations

import json
from pathlib import Path

from slm_workbench.engine.data.preview import preview, preview_as_prepared

ROWS = [
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there!"}]},
    {"messages": [{"role": "human", "content": "Hey"}, {"role": "assistant", "content": "Hi!"}]},
    {"messages": [{"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Bye!"}]},
]


def test_a_mapping_goes_on_top_of_the_detected_format(tmp_path: Path) -> None:
    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    plain = preview(str(data), 10, format="auto")
    assert plain.detection.spec is not None and len(plain.issues) == 1  # row 2's role "human"
    mapped = preview_as_prepared(str(data), 10, format="auto", roles={"human": "user"})
    assert mapped.detection.spec is not None and mapped.detection.spec.name == plain.detection.spec.name
    assert mapped.detection.spec.roles["human"] == "user" and mapped.issues == []
    assert mapped.detection.reason == plain.detection.reason
    assert preview_as_prepared(str(data), 10, format="auto").issues == plain.issues  # no mapping: the same


def test_a_window_from_a_row(tmp_path: Path) -> None:
    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    window = preview(str(data), 10).from_row(2)
    assert [loc.row for loc in window.locs] == [2, 3] and len(window.rows) == 2
    assert all((i.row or 0) >= 2 for i in window.issues) and window.issues
