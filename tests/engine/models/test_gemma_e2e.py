"""End to end on the real Gemma 3 270M: the converted folder, and LoRA steps on it as a job (text data,
and chat data with the gemma template chosen in the recipe).

The conversion (about 2 minutes on 2 cores) is done once into ``$SLMW_TEST_CACHE`` like SmolLM2's;
with it cached, this file takes about 55 s (load ~4.5). Skipped where the Gemma packages are not installed.
bench/gemma.py has the slower checks (greedy agreement with the GGUF, export, speeds).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from slm_workbench.engine.errors import ModelNotFoundError
from slm_workbench.engine.models.builtin import BUILTIN_MODELS, GEMMA3_270M
from tests.conftest import TEST_CACHE
from tests.helpers import wait_for_state

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gemma_dir() -> Path:
    from slm_workbench.engine.models.gguf_convert import convert_gguf

    builtin = BUILTIN_MODELS[GEMMA3_270M]
    folder = TEST_CACHE / "models" / GEMMA3_270M
    if (folder / "config.json").is_file():
        return folder
    try:
        builtin.check_installed()
    except ModelNotFoundError as exc:
        pytest.skip(str(exc))
    scratch = Path(tempfile.mkdtemp(prefix="slmw-gemma-assembly-"))
    old = os.environ.get("SLMW_HOME")
    os.environ["SLMW_HOME"] = str(scratch)  # the assembled GGUF goes to a scratch store, removed after
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        convert_gguf(builtin.gguf_path(), folder, display_name=GEMMA3_270M, upstream=builtin.upstream)
    finally:
        os.environ["SLMW_HOME"] = old if old is not None else ""
        if old is None:
            os.environ.pop("SLMW_HOME")
        shutil.rmtree(scratch, ignore_errors=True)
    return folder


def test_the_converted_folder_is_gemma_3_270m_without_a_template(gemma_dir: Path):
    from transformers import AutoTokenizer

    config = json.loads((gemma_dir / "config.json").read_text())
    assert config["architectures"] == ["Gemma3ForCausalLM"]
    assert (config["num_hidden_layers"], config["hidden_size"], config["vocab_size"]) == (18, 640, 262144)
    assert config["tie_word_embeddings"] is True and config["sliding_window"] == 512
    tokenizer = AutoTokenizer.from_pretrained(gemma_dir)
    assert not tokenizer.chat_template  # a base model: prepare lets it through
    assert tokenizer("The capital of France is")["input_ids"][0] == tokenizer.bos_token_id  # Gemma needs its <bos>


def _text_data(tmp_path: Path) -> str:
    data = tmp_path / "contacts.jsonl"
    rows = [{"text": f"Extract the contact as JSON: P{i} is {20 + i} and lives in Oslo.\nJSON: "
                     f'{{"name": "P{i}", "age": {20 + i}, "city": "Oslo"}}'} for i in range(16)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(data)


@pytest.mark.parametrize("data", ["text", "chat"])
def test_lora_steps_as_a_job(gemma_dir: Path, slmw_home: Path, tmp_path: Path, data: str):
    """Text data on the base model as prepared; chat data (the demo's) with ``chat_template: gemma`` in
    the recipe, as a user trains a base model on conversations."""
    from slm_workbench.config.train import TrainRecipe
    from slm_workbench.engine.runs.launcher import start_recipe

    models = slmw_home / "models"
    models.mkdir(parents=True, exist_ok=True)
    (models / GEMMA3_270M).symlink_to(gemma_dir, target_is_directory=True)
    source, template = (_text_data(tmp_path), None) if data == "text" else ("slmw:demo", "gemma")
    recipe = TrainRecipe(model=GEMMA3_270M, data=source, chat_template=template, method="lora", max_steps=2,
                         batch_size=2, max_length=128, eval_fraction=0, save_steps=2, logging_steps=1, threads=1)
    run_dir = start_recipe(recipe, title=f"gemma e2e ({data})")
    info = wait_for_state(run_dir, {"done", "failed"}, timeout=300)
    assert info.state == "done", (run_dir / "worker.log").read_text()[-3000:]
    losses = [json.loads(line).get("loss") for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [loss for loss in losses if loss is not None] and all(0 < loss < 20 for loss in losses if loss is not None)
    assert (run_dir / "artifacts" / "adapter" / "adapter_config.json").is_file()
