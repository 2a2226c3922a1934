"""The Runs pane's progress line is built from the event's fields."""

from __future__ import annotations

from slm_workbench.engine.events import Progress
from slm_workbench.ui.widgets.run_detail import progress_text


def test_progress_line_shows_item_position_phase_and_amount() -> None:
    event = Progress(phase="perplexity", done=3, total=30, unit="steps", message="fast", item="int8", item_index=2,
                     item_count=4)
    text = progress_text(event)
    assert text.plain == "int8 2/4  perplexity 3/30 steps  fast"
    assert any(span.style == "bold" and text.plain[span.start:span.end] == "int8" for span in text.spans)
    assert progress_text(Progress(phase="loading the model")).plain == "loading the model"
    assert progress_text(Progress(phase="decoding", item="fp32")).plain == "fp32  decoding"
