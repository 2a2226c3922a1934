"""The smoke test through Foundry Local itself (foundry-local-sdk 2.2.1 in its own interpreter),
and ``install``. ``make test`` builds that interpreter (``.venv-foundry``, the Makefile's
``foundry-sdk``) and points ``SLMW_FOUNDRY_PYTHON`` at it; where no interpreter with the SDK is
found these tests are skipped with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.config.deploy_foundry import FoundryRecipe
from slm_workbench.engine.deploy.foundry import sdk as foundry_sdk
from slm_workbench.engine.deploy.foundry.stage import run
from slm_workbench.engine.deploy.foundry.smoke import compare_answers, describe_result, SmokeResult
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.runs.context import RunContext
from slm_workbench.engine.runs.run import Run
from tests.export_fixtures import link_variants

from .conftest import make_lora_run

PYTHON, WHY = foundry_sdk.find_python()
needs_sdk = pytest.mark.skipif(PYTHON is None, reason=f"no Foundry Local SDK: {WHY} (`make foundry-sdk` builds one)")


def _ctx(run_dir: Path) -> RunContext:
    (run_dir / "artifacts").mkdir(parents=True, exist_ok=True)
    return RunContext(run_dir)


def test_a_difference_names_the_first_differing_token_and_both_texts():
    encode = lambda text: [ord(c) for c in text]  # noqa: E731
    decode = lambda ids: "".join(map(chr, ids))  # noqa: E731
    same = compare_answers(encode, decode, "p", "Paris.", "Paris.")
    assert same.identical and same.first_difference is None
    other = compare_answers(encode, decode, "p", "Paris is", "Paris.")
    assert not other.identical and other.first_difference == {"index": 5, "foundry": " ", "workbench": "."}
    line = describe_result(SmokeResult("differs", prompts=[other]))
    assert "token 5" in line and "'Paris is'" in line and "'Paris.'" in line
    shorter = compare_answers(encode, decode, "p", "Par", "Paris")
    assert shorter.first_difference == {"index": 3, "foundry": "(end)", "workbench": "i"}


def test_without_the_sdk_the_smoke_test_is_skipped_with_the_reason(slmw_home, tiny_model_dir, tiny_variants, tmp_path,
                                                                     monkeypatch):
    link_variants(slmw_home, tiny_model_dir.name, {"fp32": tiny_variants["fp32"]})
    monkeypatch.setenv(foundry_sdk.PYTHON_ENV, str(tmp_path / "no-such-python"))
    run(FoundryRecipe(source=f"{tiny_model_dir}:fp32", name="tiny"), _ctx(tmp_path / "run"))
    smoke = json.loads(Run(tmp_path / "run").artifact("smoke.json").read_text())
    assert smoke["verdict"] == "skipped" and "no-such-python does not exist" in smoke["reason"]
    with pytest.raises(WorkbenchError, match="--install needs the Foundry Local SDK"):
        run(FoundryRecipe(source=f"{tiny_model_dir}:fp32", name="tiny", install=True), _ctx(tmp_path / "run2"))


@needs_sdk
def test_foundry_local_answers_with_the_workbench_tokens_and_install_refuses_a_name_twice(
        slmw_home, tiny_model_dir, tiny_variants, tmp_path, monkeypatch):
    link_variants(slmw_home, tiny_model_dir.name, {"fp32": tiny_variants["fp32"]})
    monkeypatch.setenv(foundry_sdk.APP_DATA_ENV, str(tmp_path / "foundry"))
    recipe = FoundryRecipe(source=f"{tiny_model_dir}:fp32", name="tiny", install=True, max_new_tokens=12,
                           output=str(tmp_path / "out"))
    run(recipe, _ctx(tmp_path / "run"))
    smoke = json.loads(Run(tmp_path / "run").artifact("smoke.json").read_text())
    assert smoke["verdict"] == "identical", smoke
    assert smoke["sdk"] == "2.2.1" and len(smoke["prompts"]) == 2
    for answer in smoke["prompts"]:
        assert answer["foundry_text"] == answer["workbench_text"] and answer["foundry_text"]
        assert answer["foundry_prompt_tokens"] == answer["workbench_prompt_tokens"]
        assert answer["foundry_s"] > 0 and answer["workbench_s"] > 0
    assert smoke["foundry_load_s"] > 0
    package = json.loads(Run(tmp_path / "run").artifact("package.json").read_text())
    assert package["installed"] and package["model_id"] == "tiny:1"
    reply = foundry_sdk.call(PYTHON, {"action": "check", "model_id": "tiny:1", "app_data_dir": str(tmp_path / "foundry")})
    assert reply == {"ok": True, "exists": True}
    listed = foundry_sdk.call(PYTHON, {"action": "list", "app_data_dir": str(tmp_path / "foundry")})
    assert listed == {"ok": True, "models": ["tiny:1"]}  # the smoke test's own registration was thrown away

    again = recipe.model_copy(update={"output": str(tmp_path / "out2")})
    with pytest.raises(WorkbenchError, match=r"tiny:1 is already registered in Foundry Local"):
        run(again, _ctx(tmp_path / "run2"))
    assert not (tmp_path / "out2" / "tiny").exists()  # refused before anything was written
    run(again.model_copy(update={"force": True, "smoke": False}), _ctx(tmp_path / "run3"))
    assert json.loads(Run(tmp_path / "run3").artifact("package.json").read_text())["installed"]


@needs_sdk
def test_a_lora_run_deployed_with_its_default_variant_answers_the_same_through_foundry_local(
        slmw_home, tiny_model_dir, tmp_path):
    """A fine-tuned run (an adapter that changes what the tiny model says): merged, its default variant
    (int8) built, packaged, and Foundry Local gives the workbench's greedy tokens."""
    from transformers import AutoTokenizer

    run_dir = make_lora_run(tiny_model_dir, seed=3, r=8, targets=["q_proj", "v_proj", "down_proj"], title="lora")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(run_dir / "artifacts" / "adapter")  # as training does
    run(FoundryRecipe(source=run_dir.name, max_new_tokens=16), _ctx(tmp_path / "deploy"))
    smoke = json.loads(Run(tmp_path / "deploy").artifact("smoke.json").read_text())
    assert smoke["verdict"] == "identical", smoke
    package = json.loads(Run(tmp_path / "deploy").artifact("package.json").read_text())
    assert package["variant"] == "int8" and package["folder"].endswith(f"{run_dir.name}-int8")
    assert Run(run_dir).merged_dir.is_dir()
    assert all(p["foundry_text"] for p in smoke["prompts"])
