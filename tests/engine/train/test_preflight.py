"""Pre-launch checks: refuse what would fail minutes into a job, without loading weights."""

from __future__ import annotations

import json
from pathlib import Path

from slm_workbench.config.train import TrainRecipe
from slm_workbench.engine.train.preflight import preflight


def test_a_sound_recipe_passes(tiny_model_dir: Path, tiny_chat_data: Path) -> None:
    result = preflight(TrainRecipe(model=str(tiny_model_dir), data=str(tiny_chat_data), max_length=256), has_cuda=False)
    assert result.errors == []


def test_max_length_beyond_the_model_context_is_an_error(tiny_model_dir: Path, tiny_chat_data: Path) -> None:
    recipe = TrainRecipe(model=str(tiny_model_dir), data=str(tiny_chat_data), max_length=1024)
    result = preflight(recipe, has_cuda=False)
    assert result.errors == [
        f"max_length 1024 is beyond the context of {tiny_model_dir} (512 tokens, max_position_embeddings in "
        f"{tiny_model_dir / 'config.json'}): set max_length to 512 or less"
    ]


def test_missing_data_unknown_model_and_qlora_on_cpu(tiny_model_dir: Path, tmp_path: Path) -> None:
    missing = preflight(TrainRecipe(model=str(tiny_model_dir), data=str(tmp_path / "nope.jsonl"), max_length=256),
                        has_cuda=False)
    assert missing.errors == [f"data: no such file or folder: {tmp_path / 'nope.jsonl'}"]
    unknown = preflight(TrainRecipe(model="no-such-model", data="slmw:demo"), has_cuda=False)
    assert "unknown model 'no-such-model'" in unknown.errors[0]
    qlora = preflight(TrainRecipe(model=str(tiny_model_dir), data="slmw:demo", method="qlora"), has_cuda=False)
    assert "QLoRA needs a CUDA GPU" in qlora.errors[0]


def test_data_prepared_for_another_tokenizer_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "manifest.json").write_text(json.dumps({
        "kind": "slmw-dataset", "tokenizer": {"model": "other-model", "tokenizer_json_sha256": "0" * 64},
        "stats": {"max": 4000},
    }))
    result = preflight(TrainRecipe(model=str(tiny_model_dir), data=str(prepared), max_length=512), has_cuda=False)
    assert "prepared with another tokenizer (other-model)" in result.errors[0]
    assert "4000 tokens; max_length 512 truncates them" in result.warnings[0]


# -- a base model (no chat template) --------------------------------------------------------------------------
def test_conversations_on_a_base_model_without_a_template_are_refused_naming_the_option(
        tiny_base_model_dir: Path, tiny_chat_data: Path) -> None:
    result = preflight(TrainRecipe(model=str(tiny_base_model_dir), data=str(tiny_chat_data), max_length=256),
                       has_cuda=False)
    assert result.errors == [
        f"{tiny_base_model_dir} has no chat template (a base model) and {tiny_chat_data} holds conversations: "
        "choose one with `chat_template: chatml|gemma|PATH.jinja` in the recipe, or --set chat_template=chatml"]
    chosen = preflight(TrainRecipe(model=str(tiny_base_model_dir), data=str(tiny_chat_data), max_length=256,
                                   chat_template="gemma"), has_cuda=False)
    assert chosen.errors == []


def test_text_on_a_base_model_needs_no_template(tiny_base_model_dir: Path, tmp_path: Path) -> None:
    text = tmp_path / "text.jsonl"
    text.write_text("".join(json.dumps({"text": f"Line {i}."}) + "\n" for i in range(4)))
    assert preflight(TrainRecipe(model=str(tiny_base_model_dir), data=str(text), max_length=256),
                     has_cuda=False).errors == []


def test_a_recipe_template_that_does_not_render_is_refused(tiny_model_dir: Path, tiny_chat_data: Path,
                                                           tmp_path: Path) -> None:
    bad = tmp_path / "bad.jinja"
    bad.write_text("{% if %}")
    result = preflight(TrainRecipe(model=str(tiny_model_dir), data=str(tiny_chat_data), max_length=256,
                                   chat_template=str(bad)), has_cuda=False)
    assert len(result.errors) == 1 and result.errors[0].startswith(f"{bad}: not a valid Jinja template")


def test_a_recipe_template_whose_end_of_turn_the_vocabulary_splits_is_refused(tiny_model_dir: Path,
                                                                                tiny_chat_data: Path) -> None:
    result = preflight(TrainRecipe(model=str(tiny_model_dir), data=str(tiny_chat_data), max_length=256,
                                   chat_template="gemma"), has_cuda=False)  # SmolLM2's vocabulary has no <end_of_turn>
    assert len(result.errors) == 1 and "ends a turn with '<end_of_turn>'" in result.errors[0]
    assert "use chatml, whose end of turn is one token here" in result.errors[0]
