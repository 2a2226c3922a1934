"""Starting a job from the TUI: one message, one place that launches it, notifies and opens it."""

from __future__ import annotations

from pathlib import Path

from slm_workbench.config.recipes import SystemCheckRecipe
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.runs import launcher
from slm_workbench.engine.runs.store import RunStore
from slm_workbench.ui.app import make_app
from slm_workbench.ui.messages import StartJob
from slm_workbench.ui.widgets.run_table import RunTable

from .conftest import fixed_sample, wait_for


async def test_start_job_launches_notifies_and_opens_the_run(tmp_path: Path, monkeypatch) -> None:
    calls: list[dict] = []
    real = launcher.start_recipe

    def spy(recipe, **kwargs):
        calls.append(kwargs)
        return real(recipe, **kwargs)

    monkeypatch.setattr(launcher, "start_recipe", spy)
    store = RunStore(tmp_path / "runs")
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2, initial_pane="data")
    notes: list[tuple[str, str]] = []
    app.notify = lambda message, **kw: notes.append((str(message), kw.get("severity", "information")))  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        app.screen.post_message(StartJob(SystemCheckRecipe(seconds=1, size=32, threads=1), "quick check", force=True))
        await wait_for(pilot, lambda: app.screen.query_one("#panes").current == "runs", what="the Runs pane")
        table = app.screen.query_one(RunTable)
        await wait_for(pilot, lambda: table.selected_run is not None, what="the run selected")
        [run] = store.list()
        assert table.selected_run.id == run.id and run.title == "quick check"
        assert calls == [{"title": "quick check", "run_store": store, "force": True}]
        assert any(run.id in text for text, _ in notes)
        await wait_for(pilot, lambda: table.selected_run.state == "done", what="the job to end", timeout=60)


async def test_a_refused_job_is_one_error_and_the_pane_stays(tmp_path: Path, monkeypatch) -> None:
    def refuse(recipe, **kwargs):
        raise WorkbenchError("the job needs 40 GiB, 22 GiB free", hint="lower batch_size or pass --force")

    monkeypatch.setattr(launcher, "start_recipe", refuse)
    app = make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=60, initial_pane="train")
    notes: list[tuple[str, str]] = []
    app.notify = lambda message, **kw: notes.append((str(message), kw.get("severity", "information")))  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        app.screen.post_message(StartJob(SystemCheckRecipe(seconds=1, size=32, threads=1), "check"))
        await wait_for(pilot, lambda: bool(notes), what="the refusal")
        await pilot.pause()
        assert notes == [("the job needs 40 GiB, 22 GiB free\nlower batch_size or pass --force", "error")]
        assert app.screen.query_one("#panes").current == "train"
        assert RunStore(tmp_path / "runs").list() == []
