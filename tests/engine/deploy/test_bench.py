"""The load benchmark: the job serves the tiny variant itself, measures each client count and
writes bench.json and the table; only this machine is loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.config.deploy_bench import BenchRecipe
from slm_workbench.engine.deploy.bench.load import (RequestResult, figure_lines, percentile, require_loopback,
                                                     summarize, table)
from slm_workbench.engine.deploy.bench.stage import server_threads
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.runs.launcher import start_recipe, wait_for
from slm_workbench.engine.runs.run import Run


def test_the_bench_job_on_the_tiny_variant(slmw_home: Path, tiny_variants: dict[str, Path]) -> None:
    recipe = BenchRecipe(target=str(tiny_variants["fp32"]), clients=[1, 3], requests=2, max_tokens=4, threads=1,
                         parallel=4, timeout_s=300)
    run_dir = start_recipe(recipe, title="bench tiny")
    info = wait_for(run_dir, timeout=400)
    assert info.state == "done", (run_dir / "worker.log").read_text()[-2000:]
    report = json.loads(Run(run_dir).artifact("bench.json").read_text())
    levels = {lv["clients"]: lv for lv in report["levels"]}
    assert set(levels) == {1, 3}
    for clients, lv in levels.items():
        assert (lv["requests"], lv["errors"], lv["tokens"]) == (2 * clients, 0, 4 * 2 * clients)
        assert 0 < lv["ttft_p50_s"] <= lv["ttft_p95_s"] and lv["tok_s_aggregate"] > 0 and lv["peak_rss_mb"] > 10
    markdown = Run(run_dir).artifact("bench.md").read_text()
    assert "| 3 | 6 | 0 |" in markdown
    ratio = report["speedup_vs_1_client"]["3"]
    assert ratio == round(levels[3]["tok_s_aggregate"] / levels[1]["tok_s_aggregate"], 2) and report["threads"] == 1
    load = " ".join(f"{x:.2f}" for x in report["load_avg"])
    cpus = report["cpu_count"]
    table_part, _, figures = markdown.partition("\n\n")  # the table, then the figures (what the CLI prints last)
    assert table_part.splitlines()[-1].startswith("| 3 | 6 | 0 |")
    assert figures.splitlines() == [f"3 clients: {ratio:.2f}x the aggregate tokens/s of 1 client",
                                    f"load average {load} on {cpus} CPU{'s' * (cpus != 1)} · server threads 1 · parallel 4"]


def test_only_this_machine_is_loaded() -> None:
    require_loopback("http://127.0.0.1:8000/v1")
    with pytest.raises(WorkbenchError, match="only a server on this machine"):
        require_loopback("http://10.0.0.7:8000/v1")


def test_the_figures() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5 and percentile([], 0.5) is None
    results = [RequestResult(0, 0.1, 10, 1.0), RequestResult(1, 0.3, 10, 2.0), RequestResult(1, error="boom")]
    level = summarize(2, results, wall_s=2.0, peak_rss=200_000_000)
    assert (level.requests, level.errors, level.tokens, level.tok_s_aggregate) == (3, 1, 20, 10.0)
    assert level.tok_s_per_client == 7.5 and level.ttft_p50_s == 0.2 and level.peak_rss_mb == 200.0
    assert level.error_examples == ["boom"] and "| 2 | 3 | 1 |" in table([level])


def test_the_figure_lines_under_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    report = {"url": None, "parallel": 8, "threads": 3, "cpu_count": 2, "load_avg": [0.789, 0.95, 1.07],
              "levels": [{"clients": 1}, {"clients": 4}, {"clients": 8}], "speedup_vs_1_client": {"1": 1.0, "4": 2.21}}
    assert figure_lines(report) == [
        "4 clients: 2.21x the aggregate tokens/s of 1 client",
        "8 clients: no ratio to 1 client (one of the two measured no tokens/s)",
        "load average 0.79 0.95 1.07 on 2 CPUs · server threads 3 · parallel 8"]
    given = {**report, "url": "http://127.0.0.1:8000/v1", "parallel": None, "threads": None, "cpu_count": 1,
             "levels": [{"clients": 1}]}
    assert figure_lines(given) == ["load average 0.79 0.95 1.07 on 1 CPU · server at http://127.0.0.1:8000/v1, "
                                   "its threads and parallel as it was started"]


def test_the_threads_a_server_runs_with_when_the_recipe_leaves_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not "default": the number ``slmw serve`` picks (all cores but one on a small CPU), else the runtime's
    one per physical core."""
    import psutil

    from slm_workbench.engine.chat import types

    assert server_threads(5) == 5
    monkeypatch.setattr(types.os, "cpu_count", lambda: 2)
    assert server_threads(None) == 1
    monkeypatch.setattr(types.os, "cpu_count", lambda: 16)
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 8 if not logical else 16)
    assert server_threads(None) == 8


def test_the_bench_job_alternates_two_adapters_over_one_base(slmw_home: Path, fp32_base: Path, two_runs) -> None:
    first, second = two_runs
    recipe = BenchRecipe(target=str(fp32_base), adapters=[first.name, second.name], clients=[2], requests=2,
                         max_tokens=4, threads=1, parallel=4, timeout_s=300)
    info = wait_for(start_recipe(recipe, title="bench adapters"), timeout=400)
    assert info.state == "done", (Path(info.dir) / "worker.log").read_text()[-2000:]
    report = json.loads(Run(Path(info.dir)).artifact("bench.json").read_text())
    assert report["adapters"] == [first.name, second.name]
    assert [(lv["requests"], lv["errors"], lv["tokens"]) for lv in report["levels"]] == [(4, 0, 16)]
