"""What a served entry names: its id, what it loads, and a LoRA adapter after the last colon."""

from __future__ import annotations

from pathlib import Path

from slm_workbench.config.serve import split_entry
from slm_workbench.engine.model_source import split_adapter


def test_entries() -> None:
    assert split_entry("mine=smollm2-135m-instruct:int8") == ("mine", "smollm2-135m-instruct:int8")
    assert split_entry("smollm2-135m-instruct:int8") == ("smollm2-135m-instruct:int8",) * 2
    assert split_entry("./models/a=b") == ("./models/a=b",) * 2  # a path with '=' is a spec


def test_an_adapter_after_the_last_colon(tmp_path: Path, slmw_home: Path) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    assert split_adapter(f"smollm2-135m-instruct:{adapter}") == ("smollm2-135m-instruct", str(adapter))
    assert split_adapter("smollm2-135m-instruct:int8") == ("smollm2-135m-instruct:int8", None)
    assert split_adapter("smollm2-135m-instruct") == ("smollm2-135m-instruct", None)


def test_a_base_and_its_adapter_are_two_models_of_one_server(tiny_model_dir: Path, tmp_path: Path, slmw_home: Path) -> None:
    """``BASE:ADAPTER`` answers with the adapter applied; the base alone without it."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from slm_workbench.engine.chat.session import answer
    from slm_workbench.engine.chat.types import GenParams
    from slm_workbench.engine.serve.pool import ModelPool

    torch.manual_seed(1)
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False, lora_alpha=64)
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), lora).save_pretrained(tmp_path / "adapter")
    pool = ModelPool.open([f"base={tiny_model_dir}", f"tuned={tiny_model_dir}:{tmp_path / 'adapter'}"], threads=1)
    try:
        hello, params = [{"role": "user", "content": "Hello there"}], GenParams(max_new_tokens=8)
        base, tuned = (answer(pool.find(name).backend, hello, params).text for name in ("base", "tuned"))  # type: ignore[union-attr]
        assert base != tuned
        assert pool.find("tuned").backend.adapter == str((tmp_path / "adapter").resolve())  # type: ignore[union-attr]
    finally:
        pool.close()
