"""Conversations rendered with a chosen chat template on a base model's tokenizer: the trained span ends on
the template's own end of turn, the sample names the template, and a tokenizer without one says which option
gives it one."""

from __future__ import annotations

import json

import pytest

from slm_workbench.engine.data import IGNORE, load_tokenizer, render_sample
from slm_workbench.engine.data.issues import DataFormatError
from slm_workbench.engine.data.template import ChatRenderer

CONVERSATION = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                             {"role": "assistant", "content": "It is 4."}]}


def trained(tok, sample) -> str:
    return tok.decode([t for t, label in zip(sample.input_ids, sample.labels) if label != IGNORE])


@pytest.mark.parametrize(("name", "answer"), [("chatml", "It is 4.<|im_end|>"), ("gemma", "It is 4.<end_of_turn>")])
def test_the_answer_and_the_templates_end_of_turn_are_trained(tiny_base_model_dir, name, answer):
    tok = load_tokenizer(str(tiny_base_model_dir), name)
    sample = render_sample(CONVERSATION, tok)
    assert trained(tok, sample) == answer  # not the base model's EOS (<|endoftext|>): the turn's own end
    assert sample.input_ids == tok.apply_chat_template(CONVERSATION["messages"], tokenize=True)["input_ids"]
    assert sample.template == f"chat template: {name}"


def test_the_sample_names_the_models_own_template_a_text_template_and_plain_text(tiny_model_dir, tiny_base_model_dir):
    tok = load_tokenizer(str(tiny_model_dir))
    assert render_sample(CONVERSATION, tok).template == "chat template: the model's own"
    base = load_tokenizer(str(tiny_base_model_dir))
    text = render_sample({"q": "2+2?", "a": " 4"}, base, template="Q: {q}\nA: {a}")
    assert text.template == "text template" and trained(base, text) == " 4<|endoftext|>"
    assert render_sample({"text": "The sky is blue."}, base).template == "plain text"


def test_a_base_model_without_a_template_names_the_option(tiny_base_model_dir):
    tok = load_tokenizer(str(tiny_base_model_dir))
    with pytest.raises(DataFormatError) as exc:
        ChatRenderer(tok)
    assert "has no chat template (a base model)" in exc.value.message
    assert "chat_template: chatml|gemma|PATH.jinja" in exc.value.hint and "--template" in exc.value.hint
    with pytest.raises(DataFormatError, match="no chat template"):
        render_sample(CONVERSATION, tok)


def test_the_manifest_records_the_template_a_dataset_was_rendered_with(tiny_base_model_dir, tmp_path):
    from slm_workbench.config.data import PrepareDataRecipe
    from slm_workbench.engine.data import prepare_dataset

    source = tmp_path / "chat.jsonl"
    source.write_text("".join(json.dumps(CONVERSATION) + "\n" for _ in range(3)))
    recipe = PrepareDataRecipe(source=str(source), output=str(tmp_path / "out"), model=str(tiny_base_model_dir),
                               chat_template="gemma", dedupe="none", eval_fraction=0.0)
    manifest = prepare_dataset(recipe).manifest
    assert manifest["tokenizer"]["chat_template"] == "gemma" and manifest["tokenizer"]["chat_template_sha256"]
    assert manifest["rows"]["train"] == 3
