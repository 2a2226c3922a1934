"""The ``export`` job's events: each variant's progress placed k of n, and "built" as its end, as data."""

from __future__ import annotations

from slm_workbench.config.export import ExportRecipe
from slm_workbench.engine.compare.progress import CompareProgress
from slm_workbench.engine.events import Artifact, ItemState, Progress
from slm_workbench.engine.export.stage import run
from slm_workbench.engine.runs.context import RunContext
from slm_workbench.engine.runs.store import read_events
from tests.export_fixtures import link_variants


def test_an_export_job_says_built_and_finished_for_each_variant(slmw_home, tiny_model_dir, tiny_variants, tmp_path):
    link_variants(slmw_home, tiny_model_dir.name, {"fp32": tiny_variants["fp32"]})
    (tmp_path / "artifacts").mkdir()
    run(ExportRecipe(model=str(tiny_model_dir), variants=["fp32", "int4-hq"]), RunContext(tmp_path))
    events = read_events(tmp_path)
    states = [(e.item, e.state, e.finished) for e in events if isinstance(e, ItemState)]
    assert states == [("fp32", "built", True), ("int4-hq", "built", True)]
    assert [e.detail for e in events if isinstance(e, ItemState)][0] == "already built"
    hq = [e for e in events if isinstance(e, Progress) and e.item == "int4-hq"]
    assert hq and all((e.item_index, e.item_count) == (2, 2) for e in hq)
    assert all(": " not in e.phase for e in hq)  # the position is a field, not text in the phase
    built = next(i for i, e in enumerate(events) if isinstance(e, ItemState) and e.item == "int4-hq")
    assert any(isinstance(e, Artifact) and e.name == "int4-hq" for e in events[built:])  # as each is built

    state = CompareProgress()
    state.feed(events)
    assert state.finished_count == 2 and [v.activity for v in state.variants.values()] == ["built", "built"]
