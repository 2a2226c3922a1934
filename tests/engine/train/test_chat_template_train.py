"""A base model (no chat template) trained on conversations: refused at launch without a template, and with
``chat_template: gemma`` the run's tokenizer and its merged model carry the template and stop on its end of turn."""

from __future__ import annotations

import json

import pytest

from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.models.chat_template import load_template
from slm_workbench.engine.runs.launcher import start_recipe
from tests.helpers import wait_for_state


@pytest.fixture
def base_recipe(tiny_recipe, tiny_base_model_dir):
    return lambda **more: tiny_recipe(model=str(tiny_base_model_dir), max_steps=4, save_steps=4, eval_fraction=0.0,
                                      **more)


def test_conversations_on_a_base_model_are_refused_before_a_run_exists(base_recipe, slmw_home):
    with pytest.raises(WorkbenchError) as exc:
        start_recipe(base_recipe(), title="no template")
    assert "has no chat template (a base model)" in str(exc.value) and "chat_template: chatml|gemma" in str(exc.value)
    assert not (slmw_home / "runs").exists() or not list((slmw_home / "runs").iterdir())


def test_a_run_trained_with_gemma_carries_it_to_its_adapter_and_merged_model(base_recipe, tiny_base_model_dir):
    from transformers import AutoTokenizer

    run_dir = start_recipe(base_recipe(chat_template="gemma", merge=True), title="gemma template")
    info = wait_for_state(run_dir, {"done", "failed"}, timeout=240)
    assert info.state == "done", (run_dir / "worker.log").read_text()[-2000:]
    gemma = load_template("gemma").text
    for name in ("adapter", "merged"):
        assert AutoTokenizer.from_pretrained(run_dir / "artifacts" / name).chat_template == gemma
    merged = run_dir / "artifacts" / "merged"
    tokenizer = AutoTokenizer.from_pretrained(merged)
    eos = json.loads((merged / "generation_config.json").read_text())["eos_token_id"]
    assert eos == [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_turn>")]
    lineage = json.loads((run_dir / "artifacts" / "lineage.json").read_text())
    assert lineage["chat_template"] == "gemma"
    manifest = json.loads((run_dir / "data" / "manifest.json").read_text())
    assert manifest["tokenizer"]["chat_template"] == "gemma"

    # chat on the run's adapter over its base (a base model without a template): the adapter's tokenizer renders
    from slm_workbench.engine.chat.registry import open_backend
    from slm_workbench.engine.chat.types import GenParams

    backend = open_backend(str(tiny_base_model_dir), adapter=str(run_dir / "artifacts" / "adapter"), threads=1)
    try:
        assert backend.tokenizer.chat_template == gemma
        assert tokenizer.convert_tokens_to_ids("<end_of_turn>") in backend.generate_kwargs(GenParams())["eos_token_id"]
    finally:
        backend.close()


def test_text_on_a_base_model_trains_without_a_template(base_recipe, tmp_path):
    text = tmp_path / "text.jsonl"
    text.write_text("".join(json.dumps({"text": f"User {i} lives in Oslo."}) + "\n" for i in range(16)))
    run_dir = start_recipe(base_recipe(data=str(text)), title="text on a base model")
    info = wait_for_state(run_dir, {"done", "failed"}, timeout=240)
    assert info.state == "done", (run_dir / "worker.log").read_text()[-2000:]
    assert json.loads((run_dir / "artifacts" / "lineage.json").read_text())["chat_template"] == "none"
    assert not (run_dir / "artifacts" / "adapter" / "chat_template.jinja").exists()
