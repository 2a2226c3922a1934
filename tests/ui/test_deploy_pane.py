"""The Deploy pane as a user drives it: targets from the stage registry, the Foundry form and its
job, a finished package's smoke verdict, a benchmark's table, and a snapshot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Select, Static

from slm_workbench.engine import stages
from slm_workbench.engine.events import Artifact, Finished, Progress, Started
from slm_workbench.engine.runs.store import RunStore
from slm_workbench.ui.app import make_app
from slm_workbench.ui.messages import StartJob

from .conftest import SNAPSHOT_HOME, T0, fixed_sample, pane_key, press, wait_for, write_run

FOUNDRY_RUN = "20260601-110000-deploy-foundry-f00d"
SMOKE = {"verdict": "identical", "reason": "", "sdk": "2.2.1", "model_id": "slmw-smoke-contacts-int8:1", "prompts": [
    {"prompt": "What is the capital of France?", "foundry_text": "Paris.", "workbench_text": "Paris.",
     "identical": True, "first_difference": None, "foundry_prompt_tokens": 37, "workbench_prompt_tokens": 37}]}


def write_foundry_run(root: Path, *, smoke: dict | None = None, state: str = "done") -> Path:
    run_dir = write_run(root, FOUNDRY_RUN, "deploy.foundry", state, title="foundry contacts:int8", events=[
        Started(stage="deploy.foundry", pid=1, host="box", time=T0),
        Progress(phase="writing the package", done=1, total=1, item="contacts-int8", time=T0 + 5),
        Artifact(name="package", path="/data/packages/contacts-int8", time=T0 + 6),
        *([Finished(outcome="done", time=T0 + 9)] if state == "done" else []),
    ])
    (run_dir / "artifacts" / "package.json").write_text(json.dumps(
        {"name": "contacts-int8", "model_id": "contacts-int8:1", "folder": "/data/packages/contacts-int8",
         "installed": True}))
    (run_dir / "artifacts" / "smoke.json").write_text(json.dumps(smoke or SMOKE))
    return run_dir


async def open_deploy(pilot):
    await pilot.press(pane_key("deploy"))
    await wait_for(pilot, lambda: bool(pilot.app.screen.query("DeployPane")), what="the Deploy pane")
    return pilot.app.screen.query_one("DeployPane")


async def test_targets_are_the_registered_deploy_stages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_deploy(pilot)
        assert [stage for stage, _ in pane.targets] == [s for s in ("deploy.foundry", "deploy.gguf", "serve",
                                                                    "deploy.bench") if stages.find_stage(s)]
        assert pane.target == "deploy.foundry"

    gguf = stages.StageSpec("deploy.gguf", "GGUF", "slm_workbench.config.deploy_foundry:FoundryRecipe",
                            "slm_workbench.engine.deploy.foundry.stage:run", frozenset({"package"}), view="deploy")
    monkeypatch.setitem(stages._BY_NAME, "deploy.gguf", gguf)  # once helper G's stage is registered
    app = make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_deploy(pilot)
        assert [stage for stage, _ in pane.targets][:2] == ["deploy.foundry", "deploy.gguf"]
        pane.query_one("#d-target", Select).value = "deploy.gguf"
        await pilot.pause()
        assert pane.form().id == "d-form-1" and pane.form().display
        assert not pane.query_one("#d-form-0").display


async def test_build_starts_a_foundry_job_from_the_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from slm_workbench.config.deploy_foundry import FoundryRecipe

    store = RunStore(tmp_path / "runs")
    started: list = []

    def start_recipe(recipe, *, title, run_store, force):  # noqa: ANN001, ANN202 - launcher.start_recipe's shape
        started.append((recipe, title))
        return write_foundry_run(run_store.root)

    monkeypatch.setattr("slm_workbench.engine.runs.launcher.start_recipe", start_recipe)
    app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2)
    posted: list[StartJob] = []
    async with app.run_test(size=(120, 40), message_hook=lambda m: posted.append(m) if isinstance(m, StartJob) else None) as pilot:
        pane = await open_deploy(pilot)
        notes: list[str] = []
        app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
        await press(pilot, "#d-start")
        assert "source: String should have at least 1 character" in notes[-1] and posted == []

        pane.query_one("#d0-source", Input).value = "smollm2-135m-instruct:int8"
        pane.query_one("#d0-name", Input).value = "contacts-int8"
        await press(pilot, "#d-start")
        await wait_for(pilot, lambda: bool(started), what="the job to start")
        recipe, title = started[0]
        assert isinstance(recipe, FoundryRecipe) and posted[0].recipe is recipe
        assert (recipe.source, recipe.name, recipe.install) == ("smollm2-135m-instruct:int8", "contacts-int8", False)
        assert title == "foundry local package: smollm2-135m-instruct:int8"
        await wait_for(pilot, lambda: pane.latest is not None and pane.latest.run_id == FOUNDRY_RUN,
                       what="the new run followed")
        await wait_for(pilot, lambda: "identical" in str(pane.query_one("#d-smoke", Static).render()),
                       what="the smoke verdict")


async def test_a_difference_shows_the_first_differing_token_and_both_texts(tmp_path: Path) -> None:
    smoke = {"verdict": "differs", "prompts": [
        {"prompt": "Hi", "foundry_text": "Hello there", "workbench_text": "Hello!", "identical": False,
         "first_difference": {"index": 1, "foundry": " there", "workbench": "!"}}]}
    run_dir = write_foundry_run(tmp_path / "runs", smoke=smoke)
    app = make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_deploy(pilot)
        pane.open_run(run_dir)
        await wait_for(pilot, lambda: "differs" in str(pane.query_one("#d-smoke", Static).render()), what="verdict")
        shown = str(pane.query_one("#d-smoke", Static).render())
        assert "token 1" in shown and "'Hello there'" in shown and "'Hello!'" in shown
        assert "contacts-int8:1" in shown and "registered in Foundry Local" in shown


def as_if_running(run_dir: Path) -> None:
    """Make a written run read as running: this test's own process is its "job" (pid and creation
    time), with no process group, so a stop could signal nothing."""
    import os

    import psutil

    status = json.loads((run_dir / "status.json").read_text())
    status |= {"state": "running", "pid": os.getpid(), "pgid": None, "ended": None,
               "proc_start": psutil.Process().create_time()}
    (run_dir / "status.json").write_text(json.dumps(status))


async def test_a_benchmark_fills_its_table_one_client_count_at_a_time(tmp_path: Path) -> None:
    rows = [{"clients": 1, "requests": 4, "errors": 0, "ttft_p50_s": 0.12, "ttft_p95_s": 0.2,
             "tok_s_per_client": 41.5, "tok_s_aggregate": 41.5, "peak_rss_mb": 310.0},
            {"clients": 4, "requests": 16, "errors": 1, "ttft_p50_s": 0.31, "ttft_p95_s": 0.9,
             "tok_s_per_client": 24.3, "tok_s_aggregate": 97.25, "peak_rss_mb": 330.0}]
    def measuring(i: int) -> Progress:  # as deploy.bench writes it before each client count
        return Progress(phase="measuring", done=i - 1, total=3, unit="client counts", item=f"{[1, 4, 8][i - 1]} clients",
                        item_index=i, item_count=3, time=T0 + i)

    run_dir = write_run(tmp_path / "runs", "20260601-120000-deploy-bench-b0b0", "deploy.bench", "running",
                        events=[Progress(phase="starting the server", time=T0)])
    (run_dir / "recipe.yaml").write_text("stage: deploy.bench\ntarget: tiny\nclients: [1, 4, 8]\n")
    as_if_running(run_dir)
    app = make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_deploy(pilot)
        table = pane.query_one("#d-bench", DataTable)

        def column(i: int) -> list[str]:
            return [str(table.get_row_at(r)[i]) for r in range(table.row_count)]

        await wait_for(pilot, lambda: table.row_count == 3, what="the planned client counts")
        assert column(0) == ["1", "4", "8"] and column(3) == ["waiting"] * 3  # the server is starting

        with (run_dir / "events.jsonl").open("a") as fh:
            fh.write(measuring(1).to_json() + "\n")
        await wait_for(pilot, lambda: column(3) == ["measuring…", "waiting", "waiting"], what="1 client under way")
        with (run_dir / "metrics.jsonl").open("a") as fh:
            fh.write(json.dumps({"time": T0 + 10, **rows[0]}) + "\n")
        with (run_dir / "events.jsonl").open("a") as fh:
            fh.write(measuring(2).to_json() + "\n")
        await wait_for(pilot, lambda: column(3) == ["0.12", "measuring…", "waiting"], what="the 1-client row")
        assert [str(c.label) for c in table.columns.values()] == [
            "clients", "reqs", "errors", "TTFT p50", "TTFT p95", "tok/s all", "× 1 client", "tok/s each", "peak RSS MB"]
        assert pane.check_action("stop_run", ())  # a running benchmark can be stopped

        with (run_dir / "metrics.jsonl").open("a") as fh:
            fh.write(json.dumps({"time": T0 + 30, **rows[1]}) + "\n")
        with (run_dir / "events.jsonl").open("a") as fh:
            fh.write(measuring(3).to_json() + "\n")
        await wait_for(pilot, lambda: column(3) == ["0.12", "0.31", "measuring…"], what="the 4-client row")
        assert [str(c) for c in table.get_row_at(1)] == ["4", "16", "1", "0.31", "0.9", "97.2", "2.34×", "24.3", "330"]

        status = json.loads((run_dir / "status.json").read_text()) | {"state": "cancelled", "pid": None}
        (run_dir / "status.json").write_text(json.dumps(status))
        await wait_for(pilot, lambda: column(3)[2] == "not measured", what="the count it never measured")
        assert not pane.check_action("stop_run", ())


async def test_a_gguf_run_shows_its_files_and_the_llama_cpp_check(tmp_path: Path) -> None:
    out = tmp_path / "gguf-q8_0"
    out.mkdir()
    (out / "model.gguf").write_bytes(b"G" * 2048)
    (out / "Modelfile").write_text("FROM ./model.gguf\n")
    manifest = {"type": "q8_0", "writer": "workbench", "template": "ChatML", "seconds": 3.2}
    (out / "gguf.json").write_text(json.dumps(manifest))
    run_dir = write_run(tmp_path / "runs", "20260601-130000-deploy-gguf-9a9a", "deploy.gguf", "done", events=[
        Artifact(name="gguf", path=str(out / "model.gguf"), time=T0), Finished(outcome="done", time=T0 + 3)])
    app = make_app(run_store=RunStore(tmp_path / "runs"), sampler=fixed_sample, poll_interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_deploy(pilot)
        pane.open_run(run_dir)
        shown = lambda: str(pane.query_one("#d-smoke", Static).render())  # noqa: E731
        await wait_for(pilot, lambda: "GGUF q8_0" in shown(), what="the GGUF's files")
        assert str(out) in shown() and "model.gguf  2K" in shown() and "Modelfile" in shown()
        assert "llama.cpp check: none recorded by this job" in shown()

        (out / "gguf.json").write_text(json.dumps(manifest | {"check": {"verdict": "passed", "detail": "ppl +0.2%"}}))
        pane.open_run(run_dir)
        await wait_for(pilot, lambda: "llama.cpp check: passed  ppl +0.2%" in shown(), what="the recorded check")


def test_deploy_pane_with_a_package(snap_compare, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.rmtree(SNAPSHOT_HOME, ignore_errors=True)
    monkeypatch.setenv("SLMW_HOME", str(SNAPSHOT_HOME))
    write_foundry_run(SNAPSHOT_HOME / "runs")
    app = make_app(run_store=RunStore(SNAPSHOT_HOME / "runs"), sampler=fixed_sample, poll_interval=60)

    async def run_before(pilot) -> None:
        pane = await open_deploy(pilot)
        await wait_for(pilot, lambda: "identical" in str(pane.query_one("#d-smoke", Static).render()), what="verdict")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
