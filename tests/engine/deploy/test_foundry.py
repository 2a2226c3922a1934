"""The ``deploy.foundry`` job on the tiny model's fp32 variant: the package folder, its prompt
template from the chat template, refusals, nothing half-written left in place."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from slm_workbench.config.deploy_foundry import FoundryRecipe
from slm_workbench.engine.deploy.foundry import package as foundry_package
from slm_workbench.engine.deploy.foundry.stage import run
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.events import Artifact, ItemState
from slm_workbench.engine.runs.context import RunContext
from slm_workbench.engine.runs.run import Run
from slm_workbench.engine.runs.store import read_events
from tests.export_fixtures import link_variants


@pytest.fixture
def model(slmw_home: Path, tiny_model_dir: Path, tiny_variants: dict[str, Path]) -> Path:
    link_variants(slmw_home, tiny_model_dir.name, {"fp32": tiny_variants["fp32"]})
    return tiny_model_dir


def _ctx(run_dir: Path) -> RunContext:
    (run_dir / "artifacts").mkdir(parents=True, exist_ok=True)
    return RunContext(run_dir)


def _recipe(model: Path, **fields) -> FoundryRecipe:
    return FoundryRecipe(source=f"{model}:fp32", smoke=False, **fields)


def test_the_package_holds_the_model_its_prompt_template_a_card_and_lineage(model, tmp_path):
    run(_recipe(model, name="tiny"), _ctx(tmp_path / "run"))
    package = Run(tmp_path / "run").packages()["tiny"]
    names = {p.name for p in package.iterdir()}
    assert {"genai_config.json", "model.onnx", "tokenizer.json", "tokenizer_config.json", "inference_model.json",
            "README.md", "lineage.json"} <= names
    assert not [p for p in package.parent.iterdir() if p.name.startswith(".")]  # no partial left beside it

    config = json.loads((package / "inference_model.json").read_text())
    assert config["Name"] == "tiny"
    template = config["PromptTemplate"]
    assert set(template) == {"system", "user", "assistant", "prompt"}
    assert all(piece.count("{Content}") == 1 for piece in template.values())
    # SmolLM2's ChatML, cut from the template itself
    assert template["user"] == "<|im_start|>user\n{Content}<|im_end|>\n"
    assert template["prompt"] == "<|im_start|>user\n{Content}<|im_end|>\n<|im_start|>assistant\n"
    assert template["assistant"] == "<|im_start|>assistant\n{Content}<|im_end|>\n"

    lineage = json.loads((package / "lineage.json").read_text())
    assert lineage["variant"]["name"] == "fp32" and lineage["variant"]["chosen_by"] == "named"
    assert lineage["package"]["model_id"] == "tiny:1" and lineage["package"]["deploy_run"] == "run"
    assert any(c.endswith("foundry fp32") for c in lineage["template_check"])  # the PromptTemplate was checked
    assert "tiny:1" in (package / "README.md").read_text()

    events = read_events(tmp_path / "run")
    assert any(isinstance(e, Artifact) and e.name == "package" and e.path == str(package) for e in events)
    # copies, not hard links: onnx refuses external data with several links, so the variant stays loadable
    assert all(p.stat().st_nlink == 1 for p in package.iterdir() if p.is_file())
    smoke = json.loads(Run(tmp_path / "run").artifact("smoke.json").read_text())
    assert smoke["verdict"] == "skipped" and "smoke: false" in smoke["reason"]
    assert [(e.item, e.state) for e in events if isinstance(e, ItemState)][-1] == ("tiny", "built")


def test_a_package_name_already_there_is_refused_unless_forced(model, tmp_path):
    out = tmp_path / "out"
    run(_recipe(model, name="tiny", output=str(out)), _ctx(tmp_path / "a"))
    marker = out / "tiny" / "marker"
    marker.write_text("first")
    with pytest.raises(WorkbenchError, match=r"a package named tiny is already at .*out/tiny"):
        run(_recipe(model, name="tiny", output=str(out)), _ctx(tmp_path / "b"))
    assert marker.exists()
    run(_recipe(model, name="tiny", output=str(out), force=True), _ctx(tmp_path / "c"))
    assert not marker.exists() and (out / "tiny" / "inference_model.json").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["tiny"]


def test_a_failure_while_writing_leaves_nothing_in_place(model, tmp_path, monkeypatch):
    def broken_check(*_args, **_kwargs):
        raise WorkbenchError("the package's templates do not round-trip: boom")

    monkeypatch.setattr(foundry_package, "template_round_trip", broken_check)
    out = tmp_path / "out"
    with pytest.raises(WorkbenchError, match="round-trip"):
        run(_recipe(model, name="tiny", output=str(out)), _ctx(tmp_path / "a"))
    assert list(out.iterdir()) == []  # neither the package nor its partial folder


def test_a_source_with_no_chat_template_is_one_line(model, tmp_path):
    bare = tmp_path / "bare-model"
    shutil.copytree(model, bare)
    (bare / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((bare / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (bare / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(WorkbenchError) as err:
        run(FoundryRecipe(source=f"{bare}:fp32", smoke=False), _ctx(tmp_path / "run"))
    assert "has no chat template" in err.value.message and "\n" not in err.value.message
    assert str(bare) in err.value.message


def test_a_run_alone_means_the_variant_its_latest_comparison_recommends(model, slmw_home, monkeypatch):
    from slm_workbench.engine.deploy.foundry.source import resolve_package_source
    from slm_workbench.engine.runs.store import RunStore

    assert resolve_package_source(str(model)).variant == "int8"  # no comparison: int8
    store = RunStore()
    compare = store.create("compare", f"stage: compare\nmodel: {model}\n", title="compare")
    (compare / "artifacts" / "report.json").write_text(json.dumps({"recommended": "fp32"}))
    from slm_workbench.engine.runs import store as store_module

    monkeypatch.setattr(store_module, "effective_state", lambda _dir, _status: "done")
    src = resolve_package_source(str(model))
    assert src.variant == "fp32" and src.chosen_by == f"recommended by comparison {compare.name}"


def test_a_fine_tuned_run_is_merged_built_and_packaged_with_its_lineage(slmw_home, tiny_model_dir, tmp_path):
    """A LoRA run with no variant yet: merged into its base, fp32 built, packaged; data hash -> run -> package."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from slm_workbench.engine.runs.store import RunStore

    run_dir = RunStore().create("train", f"stage: train\nmodel: {tiny_model_dir}\n", title="train")
    torch.manual_seed(1)
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    adapter = run_dir / "artifacts" / "adapter"
    peft_model.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(adapter)
    data = {"folder": str(tmp_path / "prepared"), "source": {"spec": "contacts.jsonl", "sha256": "ab12cd"}, "rows": {}}
    (run_dir / "artifacts" / "lineage.json").write_text(json.dumps(
        {"run": run_dir.name, "base_model": {"spec": str(tiny_model_dir), "folder": str(tiny_model_dir)},
         "data": data, "method": "lora", "steps": 3, "final_metrics": {}, "artifacts": {"adapter": str(adapter)}}))

    run(FoundryRecipe(source=f"{run_dir.name}:fp32", smoke=False), _ctx(tmp_path / "deploy"))
    name = f"{run_dir.name}-fp32"
    package = Run(tmp_path / "deploy").packages()[name]
    lineage = json.loads((package / "lineage.json").read_text())
    assert lineage["data"]["source"]["sha256"] == "ab12cd" and lineage["run"] == run_dir.name
    assert lineage["variant"]["folder"] == str(Run(run_dir).variants.dir("fp32"))
    assert lineage["package"]["model_id"] == f"{name}:1"
    assert Run(run_dir).model_folder() == Run(run_dir).merged_dir  # merged on the way, kept in the run
    assert "sha256 `ab12cd`" in (package / "README.md").read_text()
