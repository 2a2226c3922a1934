"""End to end on the real SmolLM2: the smoke LoRA run -> ``slmw deploy foundry RUN`` -> Foundry Local
itself answers the check prompts with the workbench's greedy tokens (``identical``).

The run is trained once into the test cache (``smoke_lora_cached``); the deploy job merges its
adapter, builds the default variant (int8, no comparison recommends another), writes the package
and smoke-tests it through foundry-local-sdk 2.2.1 in its own interpreter (``make test`` builds it,
``SLMW_FOUNDRY_PYTHON``). Skipped, with the reason, without that interpreter."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from slm_workbench.cli import main
from slm_workbench.engine.deploy.foundry import sdk as foundry_sdk
from slm_workbench.engine.runs.run import Run

PYTHON, WHY = foundry_sdk.find_python()
pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(PYTHON is None, reason=f"no Foundry Local SDK: {WHY} (`make foundry-sdk` builds one)")]


@pytest.mark.timeout(1800)  # the first session trains the smoke LoRA (~2 min on 2 cores) before deploying
def test_the_smoke_lora_run_deployed_answers_identically_through_foundry_local(smoke_lora_run: Path, capsys) -> None:
    start = time.monotonic()
    assert main.main(["deploy", "foundry", smoke_lora_run.name, "--json"]) == 0
    seconds = time.monotonic() - start
    out = json.loads(capsys.readouterr().out)
    package, smoke = out["package"], out["smoke"]
    assert package["variant"] == "int8" and package["model_id"] == f"{smoke_lora_run.name}-int8:1"
    assert smoke["verdict"] == "identical", json.dumps(smoke, indent=1)
    assert smoke["sdk"] == foundry_sdk.SDK_VERSION and len(smoke["prompts"]) == 2
    for answer in smoke["prompts"]:
        assert answer["foundry_text"] == answer["workbench_text"] and answer["foundry_text"].strip()
        assert answer["foundry_prompt_tokens"] == answer["workbench_prompt_tokens"]
    lineage = json.loads((Path(package["folder"]) / "lineage.json").read_text())
    assert lineage["run"] == smoke_lora_run.name and lineage["variant"]["name"] == "int8"
    assert Run(smoke_lora_run).merged_dir.is_dir()  # merged on the way, in the run
    with capsys.disabled():
        print(f"\nslmw deploy foundry <smoke LoRA run> (merge, int8 build, package, smoke): {seconds:.0f} s")
