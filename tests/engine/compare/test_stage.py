"""The ``compare`` job's events: a variant it builds reads "built" and stays pending until measured."""

from __future__ import annotations

from slm_workbench.config.export import CompareRecipe
from slm_workbench.engine.compare.progress import CompareProgress
from slm_workbench.engine.compare.stage import run
from slm_workbench.engine.events import ItemState, Progress
from slm_workbench.engine.runs.context import RunContext
from slm_workbench.engine.runs.store import read_events
from tests.export_fixtures import link_variants


def test_a_compare_job_builds_then_measures_and_says_so_as_data(slmw_home, tiny_model_dir, tiny_variants, tmp_path):
    link_variants(slmw_home, tiny_model_dir.name, {"fp32": tiny_variants["fp32"]})
    (tmp_path / "artifacts").mkdir()
    recipe = CompareRecipe(model=str(tiny_model_dir), variants=["int4-hq"], perplexity_tokens=32, new_tokens=8,
                           decode_runs=1, rounds=2, task_examples=0)
    run(recipe, RunContext(tmp_path))
    events = read_events(tmp_path)
    states = [(e.item, e.state, e.finished) for e in events if isinstance(e, ItemState)]
    assert states == [
        ("int4-hq", "built", False),  # built by the job, not its end
        ("torch-fp32", "measured", False), ("int4-hq", "measured", False),  # first round: more to come
        ("torch-fp32", "measured", True), ("int4-hq", "measured", True),  # after the last speed round
    ]
    measuring = [e for e in events if isinstance(e, Progress) and e.item == "int4-hq" and e.item_count == 2]
    assert measuring and {e.item_index for e in measuring} == {2}

    state, counted = CompareProgress(), []  # what the pane's bar counts as each state comes
    for event in events:
        state.feed([event])
        if isinstance(event, ItemState):
            counted.append((state.variants[event.item].activity, state.finished_count))
    assert counted == [("built", 0), ("measured", 0), ("measured", 0), ("measured", 1), ("measured", 2)]
