"""``slmw serve`` and ``slmw deploy bench`` on the command line: the forms, the refusals, --detach."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from slm_workbench.cli.main import build_parser, main
from slm_workbench.cli.serve_cmd import recipe_from


def parse(*argv: str):
    return build_parser().parse_args(["serve", *argv])


def test_the_single_model_form_and_several_models() -> None:
    assert recipe_from(parse("m:int8")).models == ["m:int8"]
    assert recipe_from(parse("base", "--adapter", "RUN", "--name", "mine")).models == ["mine=base:RUN"]
    recipe = recipe_from(parse("--model", "a=m:int8", "--model", "b=m:int4", "--parallel", "2", "--port", "0"))
    assert (recipe.models, recipe.parallel, recipe.port, recipe.queue) == (["a=m:int8", "b=m:int4"], 2, 0, None)
    assert recipe_from(parse("m", "--queue", "0")).queue == 0 and recipe_from(parse("m", "--queue", "3")).queue == 3


def test_a_bad_queue_is_one_line(capsys: pytest.CaptureFixture[str], slmw_home: Path, tmp_path: Path) -> None:
    assert main(["serve", "m", "--queue", "-1"]) == 1
    err = capsys.readouterr().err
    assert "slmw: error: slmw serve: queue: Input should be greater than or equal to 0" in err
    assert err.count("error:") == 1 and "Traceback" not in err
    recipe = tmp_path / "serve.yaml"
    recipe.write_text("stage: serve\nmodels: [m]\nqueue: x\n")
    assert main(["run", str(recipe)]) == 1
    err = capsys.readouterr().err
    assert f"slmw: error: {recipe}: queue: Input should be a valid integer" in err and err.count("error:") == 1
    assert not (slmw_home / "runs").exists() or not any((slmw_home / "runs").iterdir())


def test_refusals_are_one_line(capsys: pytest.CaptureFixture[str], slmw_home: Path) -> None:
    assert main(["serve", "x", "--host", "0.0.0.0"]) == 1
    err = capsys.readouterr().err
    assert "slmw: error: slmw serve: host 0.0.0.0 is reachable from the network" in err and err.count("error:") == 1
    assert main(["serve"]) == 1 and "nothing to serve" in capsys.readouterr().err
    assert main(["deploy", "bench", "http://192.168.0.9:8000/v1"]) == 1
    assert "refusing to benchmark http://192.168.0.9:8000/v1" in capsys.readouterr().err


def test_detach_starts_the_job_and_prints_where(capsys: pytest.CaptureFixture[str], slmw_home: Path,
                                                tiny_model_dir: Path) -> None:
    assert main(["serve", str(tiny_model_dir), "--name", "tiny", "--port", "0", "--threads", "1", "--detach", "--json"]) == 0
    started = json.loads(capsys.readouterr().out)
    assert started["models"] == ["tiny"] and started["url"].startswith("http://127.0.0.1:")
    assert main(["runs", "stop", started["id"], "--wait"]) == 0
    capsys.readouterr()
    assert main(["runs", "show", started["id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "cancelled"


@pytest.mark.parametrize("detach", [False, True])
def test_a_port_in_use_exits_1_with_one_line_before_anything_starts(capsys: pytest.CaptureFixture[str],
                                                                      slmw_home: Path, detach: bool) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["serve", "smollm2-135m-instruct", "--port", str(port), *(["--detach"] if detach else [])])
    err = capsys.readouterr().err
    assert code == 1 and f"slmw: error: cannot listen on 127.0.0.1:{port}" in err and err.count("error:") == 1
    assert "--port" in err and "Traceback" not in err
    assert not (slmw_home / "runs").exists() or not any((slmw_home / "runs").iterdir())  # no job, no preparation
    assert not (slmw_home / "models" / "smollm2-135m-instruct").exists()


def test_deploy_bench_prints_the_table_then_the_figures(capsys: pytest.CaptureFixture[str], slmw_home: Path,
                                                        tiny_variants: dict[str, Path]) -> None:
    """What the user reads last is the P9 figure: each client count against one client, and the load."""
    code = main(["deploy", "bench", str(tiny_variants["fp32"]), "--clients", "1,2", "--requests", "1",
                 "--max-tokens", "2", "--threads", "1", "--parallel", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    *table, blank, ratio, load = out.splitlines()
    assert table[-1].startswith("| 2 | 2 | 0 |") and blank == ""
    assert re.fullmatch(r"2 clients: \d+\.\d\dx the aggregate tokens/s of 1 client", ratio), ratio
    assert re.fullmatch(r"load average \d+\.\d\d \d+\.\d\d \d+\.\d\d on \d+ CPUs? · server threads 1 · parallel 2", load), load
