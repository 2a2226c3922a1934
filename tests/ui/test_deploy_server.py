"""The Deploy pane runs the server it starts, by keys, with the tiny model served for real: the URL,
a request in the live log, a restart of the TUI that finds the server again, and ``s`` to stop it."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

from slm_workbench.engine.runs.launcher import stop_job, wait_for as wait_for_run
from slm_workbench.engine.runs.store import RunStore
from slm_workbench.ui.app import make_app
from slm_workbench.ui.widgets.server_view import ServerView

from .conftest import fixed_sample, wait_for, write_run
from .test_deploy_pane import open_deploy


def ask(url: str, model: str) -> int:
    """One chat completion of three tokens, as any OpenAI client sends it; its HTTP status."""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3}).encode()
    request = urllib.request.Request(f"{url}/chat/completions", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - a loopback URL the test started
        json.loads(response.read())
        return response.status


def log_rows(pane) -> list[list[str]]:  # noqa: ANN001 - DeployPane
    table = pane.query_one("#d-server", ServerView).query_one("#srv-requests")
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def server_line(pane) -> str:  # noqa: ANN001
    return str(pane.query_one("#srv-line").render())


async def test_the_pane_starts_shows_finds_again_and_stops_a_server(slmw_home: Path, tiny_model_dir: Path) -> None:
    store = RunStore(slmw_home / "runs")
    try:
        app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2)
        async with app.run_test(size=(120, 40)) as pilot:
            pane = await open_deploy(pilot)
            index = [stage for stage, _ in pane.targets].index("serve")
            pane.query_one("#d-target").focus()
            await pilot.press("enter", *["down"] * index, "enter")
            assert pane.target == "serve" and pane.form().display
            await pilot.press("slash")  # the shown target's source field: what to serve
            assert app.focused is not None and app.focused.id == f"d{index}-models"
            await pilot.press(*f"tiny={tiny_model_dir}", "tab", "tab")
            assert app.focused.id == f"d{index}-port"
            await pilot.press("0")  # any free port
            for _ in range(5):  # back past host, models and the scrolling form to Build
                await pilot.press("shift+tab")
                if app.focused.id == "d-start":
                    break
            assert app.focused.id == "d-start"
            assert not pane.check_action("stop_run", ())
            await pilot.press("enter")

            await wait_for(pilot, lambda: "● serving tiny at http://127.0.0.1:" in server_line(pane), timeout=180,
                           what="the server's URL")
            assert pane.check_action("stop_run", ())  # the footer offers Stop
            url = pane.latest.server["url"]
            assert url in server_line(pane)
            assert await asyncio.to_thread(ask, url, "tiny") == 200
            await wait_for(pilot, lambda: len(log_rows(pane)) == 1, what="the request in the log")
            _time, method, path, model, tokens, seconds, status, error = log_rows(pane)[0]
            assert (method, path, model, status, error) == ("POST", "/v1/chat/completions", "tiny", "200", "")
            prompt, answer = map(int, tokens.split("+"))
            assert prompt > 0 and 0 < answer <= 3 and float(seconds) >= 0
            served = pane.latest.run_id
        # The TUI is closed; the server still runs. A newer deploy run is in the store too.
        write_run(store.root, "20991231-000000-deploy-gguf-0e0e", "deploy.gguf", "done")
        assert store.info(store.root / served).alive

        app = make_app(run_store=store, sampler=fixed_sample, poll_interval=0.2)
        async with app.run_test(size=(120, 40)) as pilot:
            pane = await open_deploy(pilot)
            await wait_for(pilot, lambda: pane.latest is not None and pane.latest.run_id == served,
                           what="the running server found again")
            await wait_for(pilot, lambda: url in server_line(pane) and len(log_rows(pane)) == 1,
                           what="its URL and the request log so far")
            assert await asyncio.to_thread(ask, url, "tiny") == 200
            await wait_for(pilot, lambda: len(log_rows(pane)) == 2, what="the second request")

            await pilot.press("s")
            await wait_for(pilot, lambda: pane.latest.state == "cancelled" and not pane.latest.alive, timeout=60,
                           what="the server stopped")
            await wait_for(pilot, lambda: server_line(pane).startswith("○ cancelled"), what="the stopped line")
            assert f"was serving tiny at {url}" in server_line(pane)
            assert not pane.check_action("stop_run", ())
            assert len(log_rows(pane)) == 2  # the log stays
    finally:
        for info in RunStore(store.root).list():
            if info.alive:
                stop_job(info, force=True)
                wait_for_run(info.dir, timeout=30)


def test_a_refused_request_and_a_damaged_line_read_as_such() -> None:
    from slm_workbench.engine.events import CorruptLine
    from slm_workbench.ui.widgets.server_view import request_cells, server_line as line_of

    refused = request_cells({"time": 0, "method": "POST", "path": "/v1/chat/completions", "status": 404,
                             "model": "nope", "error": "The model `nope` does not exist"})
    assert [str(c) for c in refused[1:]] == ["POST", "/v1/chat/completions", "nope", "—", "—", "404",
                                             "The model `nope` does not exist"]
    assert refused[6].style == "yellow"
    damaged = request_cells(CorruptLine("/r/requests.jsonl", 7, "not JSON (Expecting value)"))
    assert str(damaged[6]) == "corrupt" and "line 7 of /r/requests.jsonl" in str(damaged[7])
    assert str(line_of("running", True, None, "loading tiny")) == "◌ starting · loading tiny  · s stops it"
    assert str(line_of("interrupted", False, None)) == "○ interrupted"
