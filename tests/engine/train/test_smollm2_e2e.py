"""End to end on the real SmolLM2: the smoke recipe's settings teach the demo skill."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from slm_workbench.config.loading import load_recipe
from slm_workbench.demo.make_demo_data import check_extraction, eval_examples
from slm_workbench.engine.runs.launcher import start_recipe
from tests.conftest import REPO
from tests.helpers import wait_for_state

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


def test_smoke_recipe_teaches_the_demo_skill(prepared_home: Path, smollm2_dir: Path) -> None:
    recipe = load_recipe(REPO / "recipes" / "smoke-lora.yaml",
                         ["max_steps=16", "eval_fraction=0", "save_steps=16"])
    start = time.monotonic()
    run_dir = start_recipe(recipe, title="smoke e2e")
    info = wait_for_state(run_dir, {"done", "failed"}, timeout=600)
    assert info.state == "done", (run_dir / "worker.log").read_text()[-3000:]
    print(f"16 LoRA steps on SmolLM2 as a job: {time.monotonic() - start:.0f} s")
    cases = eval_examples(5)
    prompts = [prompt for prompt, _ in cases]
    tuned = generate(smollm2_dir, run_dir / "artifacts" / "adapter", prompts)
    passed = sum(bool(check_extraction(expected, text)) for (_, expected), text in zip(cases, tuned))
    assert passed >= 3, tuned
    base = generate(smollm2_dir, None, prompts[:2])
    assert not any(check_extraction(expected, text) for (_, expected), text in zip(cases, base)), base
