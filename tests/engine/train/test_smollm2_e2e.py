"""End to end on the real SmolLM2: the smoke recipe's settings teach the demo skill."""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_workbench.demo.make_demo_data import check_extraction, eval_examples

pytestmark = pytest.mark.e2e


def generate(model_dir: Path, adapter: Path | None, prompts: list[str]) -> list[str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    answers = []
    for prompt in prompts:
        inputs = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                               return_tensors="pt", return_dict=True)
        out = model.generate(**inputs, max_new_tokens=32, do_sample=False)
        answers.append(tokenizer.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True))
    return answers


def test_smoke_recipe_teaches_the_demo_skill(smoke_lora_cached: Path, smollm2_dir: Path) -> None:
    """The smoke recipe at 16 steps, trained as a job (once, by the ``smoke_lora_cached`` fixture, which
    the Foundry e2e test shares), answers held-out extractions the base model cannot."""
    run_dir = smoke_lora_cached
    cases = eval_examples(5)
    prompts = [prompt for prompt, _ in cases]
    tuned = generate(smollm2_dir, run_dir / "artifacts" / "adapter", prompts)
    passed = sum(bool(check_extraction(expected, text)) for (_, expected), text in zip(cases, tuned))
    assert passed >= 3, tuned
    base = generate(smollm2_dir, None, prompts[:2])
    assert not any(check_extraction(expected, text) for (_, expected), text in zip(cases, base)), base
