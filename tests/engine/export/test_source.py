"""What MODEL_OR_RUN names: a model folder, or a training run whose LoRA adapter is merged once."""

from __future__ import annotations

import json

import pytest

from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.export.merge import merge_adapter
from slm_workbench.engine.model_source import resolve_source
from slm_workbench.engine.runs.store import RunStore


@pytest.fixture
def lora_run(slmw_home, tiny_model_dir, tmp_path):
    """A finished-looking training run: artifacts/adapter (a LoRA on the tiny model) and lineage.json."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = RunStore().create("train", "stage: train\nmodel: tiny\n", title="lora")
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    torch.manual_seed(1)
    model.save_pretrained(run / "artifacts" / "adapter")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(run / "artifacts" / "adapter")
    data = tmp_path / "prepared"
    data.mkdir()
    (data / "eval.jsonl").write_text(json.dumps({"prompt": "Hi", "completion": "Hello"}) + "\n")
    lineage = {"base_model": {"spec": "tiny", "folder": str(tiny_model_dir)}, "data": {"folder": str(data)}}
    (run / "artifacts" / "lineage.json").write_text(json.dumps(lineage))
    return run


def test_a_model_folder(tiny_model_dir, slmw_home):
    source = resolve_source(str(tiny_model_dir))
    assert (source.kind, source.name, source.hf_folder) == ("model", tiny_model_dir.name, tiny_model_dir)
    assert source.variant_dir("int4") == slmw_home / "variants" / tiny_model_dir.name / "int4"
    assert source.label("int4") == f"{tiny_model_dir.name}:int4"


def test_a_lora_run_is_merged_once_into_its_artifacts(lora_run, tiny_model_dir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    source = resolve_source(lora_run.name[:20])
    assert source.kind == "run" and source.name == lora_run.name and source.hf_folder is None
    assert source.base_folder == tiny_model_dir and source.eval_data.name == "prepared"
    assert source.variant_dir("int8") == lora_run / "artifacts" / "onnx-int8"
    merged = merge_adapter(source, log=lambda m: None)
    assert merged.hf_folder == lora_run / "artifacts" / "merged" and (merged.hf_folder / "tokenizer.json").is_file()
    ids = torch.tensor([[5, 6, 7, 8]])
    peft = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), lora_run / "artifacts" / "adapter")
    with torch.no_grad():
        expected = peft(ids).logits
        got = AutoModelForCausalLM.from_pretrained(merged.hf_folder)(ids).logits
    assert torch.allclose(expected, got, atol=1e-4)
    again = resolve_source(lora_run.name)
    assert again.hf_folder == merged.hf_folder and again.adapter is None


def test_a_run_without_a_model(slmw_home):
    run = RunStore().create("data.prepare", "stage: data.prepare\n", title="data")
    with pytest.raises(WorkbenchError, match="has no model"):
        resolve_source(run.name)
