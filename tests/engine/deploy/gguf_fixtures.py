"""A tiny model that came from a GGUF, as the built-in SmolLM2 did: the workbench's writer's input.

``gguf_origin_dir``: a random 2-layer Llama (4 heads, 2 KV heads: the Q/K permutation is not the
identity) with a 256-token vocabulary, saved as an HF folder whose ``slmw_model.json`` names
``tiny-source.gguf``. That GGUF has the embedded SmolLM2 file's metadata (tokenizer arrays cut
to 256 entries, so transformers reads it back in a second) and the tiny model's hyperparameters.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TOKENIZER_FILES

VOCAB = 256


def write_source_gguf(path: Path, model_dir: Path) -> None:
    import gguf

    from slm_workbench.engine.deploy.gguf.write import gguf_tensors, llama_hparams, load_tensors
    from slm_workbench.engine.models.builtin import BUILTIN_MODELS, DEFAULT_MODEL

    reader = gguf.GGUFReader(BUILTIN_MODELS[DEFAULT_MODEL].gguf_path())
    config = json.loads((model_dir / "config.json").read_text())
    hparams = llama_hparams(config)
    writer = gguf.GGUFWriter(str(path), "llama")
    for key, field in reader.fields.items():
        if key.startswith(("GGUF.", "general.architecture")) or key in hparams:
            continue
        value = field.contents()
        if key.startswith("tokenizer.ggml.") and isinstance(value, list):
            value = value[:VOCAB] if key != "tokenizer.ggml.merges" else value[:8]
        sub = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, value, field.types[0], sub_type=sub)
    for key, (value, kind) in hparams.items():
        writer.add_key_value(key, value, gguf.GGUFValueType[kind])
    heads, kv = config["num_attention_heads"], config["num_key_value_heads"]
    for name, data in gguf_tensors(load_tensors(model_dir), "llama", config["num_hidden_layers"], heads, kv,
                                   set()).items():
        writer.add_tensor(name, data.astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope="session")
def gguf_origin_dir(smollm2_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2, rms_norm_eps=1e-5,
                         initializer_range=0.2)  # large weights: attention (and so Q/K order) matters
    root = tmp_path_factory.mktemp("gguf-origin")
    folder = root / "tiny-from-gguf"
    LlamaForCausalLM(config).save_pretrained(folder)
    for name in TOKENIZER_FILES:  # the chat template and special tokens (the Modelfile's input)
        if (smollm2_tokenizer_dir / name).is_file():
            shutil.copy2(smollm2_tokenizer_dir / name, folder / name)
    source = root / "tiny-source.gguf"
    write_source_gguf(source, folder)
    (folder / "slmw_model.json").write_text(json.dumps({"name": "tiny-from-gguf", "source": str(source),
                                                        "converted_from": "gguf"}))
    return folder


def logits_of(model_or_dir, ids, gguf_file: str | None = None):
    import torch
    from transformers import AutoModelForCausalLM

    model = model_or_dir
    if not hasattr(model, "forward"):
        model = AutoModelForCausalLM.from_pretrained(model_or_dir, gguf_file=gguf_file, dtype=torch.float32)
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0]


@pytest.fixture
def no_llama_cpp(monkeypatch, tmp_path):
    """Neither llama.cpp's tools nor a named llama-cpp-python Python."""
    monkeypatch.delenv("SLMW_LLAMA_CPP", raising=False)
    monkeypatch.delenv("SLMW_LLAMA_PYTHON", raising=False)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", f"{empty}{os.pathsep}{os.path.dirname(os.__file__)}")


@pytest.fixture
def lora_on_gguf_origin(slmw_home, gguf_origin_dir) -> Path:
    """A finished-looking LoRA training run whose base model came from a GGUF."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from slm_workbench.engine.runs.store import RunStore

    run = RunStore().create("train", "stage: train\nmodel: tiny\n", title="lora")
    torch.manual_seed(1)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(gguf_origin_dir),
                           LoraConfig(r=4, target_modules=["q_proj", "k_proj", "v_proj"], init_lora_weights=False))
    model.save_pretrained(run / "artifacts" / "adapter")
    AutoTokenizer.from_pretrained(gguf_origin_dir).save_pretrained(run / "artifacts" / "adapter")
    lineage = {"base_model": {"spec": "tiny", "folder": str(gguf_origin_dir)}, "data": {"sha256": "abc"}}
    (run / "artifacts" / "lineage.json").write_text(json.dumps(lineage))
    return run
