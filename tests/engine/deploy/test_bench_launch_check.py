"""``slmw deploy bench TARGET``: a target that cannot be served is refused by the stage's launch check, in
one line, before a job (and its server) starts; what can be served passes without loading anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_workbench.cli.main import main
from slm_workbench.config.deploy_bench import BenchRecipe
from slm_workbench.engine.deploy.bench.stage import check
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.runs.store import RunStore

MODEL = "smollm2-135m-instruct"


@pytest.mark.parametrize(("target", "says"), [
    ("nosuch", "no model or run named 'nosuch'"),
    (f"{MODEL}:int5", f"variant int5 of {MODEL} is not built and is not a preset the server can build"),
    ("20260101-000000-train-abcd:int8", "no model or run named '20260101-000000-train-abcd'"),
    (f"{MODEL}:lora-fp32+nosuchrun", "no adapter named nosuchrun"),
    ("/no/such/folder", "no such file or folder: /no/such/folder"),
    ("http://10.1.2.3:8000/v1", "refusing to benchmark http://10.1.2.3:8000/v1: only a server on this machine"),
])
def test_a_target_that_cannot_be_served_is_one_line_before_a_job_starts(prepared_home: Path, capsys, target: str,
                                                                        says: str) -> None:
    assert main(["deploy", "bench", target]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("slmw: error: ") and says in err[0], err
    assert len(err) <= 2 and all(line.startswith("slmw: ") for line in err)  # the error, and its hint
    assert not RunStore().list()  # no job, no server


@pytest.mark.parametrize("target", [MODEL, f"{MODEL}:int8", f"{MODEL}:int4-hq", f"bench={MODEL}:int4"])
def test_what_can_be_served_passes_without_building_or_loading(prepared_home: Path, target: str) -> None:
    check(BenchRecipe(target=target))  # int8/int4-hq are presets not built here: the server builds them
    assert not (prepared_home / "variants").exists()


def test_a_run_without_an_adapter_is_not_an_adapter(prepared_home: Path) -> None:
    run = RunStore().create("train", f"stage: train\nmodel: {MODEL}\n", title="no adapter yet")
    with pytest.raises(WorkbenchError, match=f"no adapter named {run.name}"):
        check(BenchRecipe(target=f"{MODEL}:lora-fp32+{run.name}"))


def test_adapters_need_an_adapter_base_and_adapters_that_exist(prepared_home: Path) -> None:
    with pytest.raises(WorkbenchError, match=f"adapters: {MODEL}:int8 takes no adapters"):
        check(BenchRecipe(target=f"{MODEL}:int8", adapters=["x"]))
    with pytest.raises(WorkbenchError, match="no adapter named nosuchrun"):
        check(BenchRecipe(target=f"{MODEL}:lora-int8", adapters=["nosuchrun"]))
    assert not (prepared_home / "variants").exists()
