"""Gemma 3's layout through ONNX Runtime GenAI's builder, on a tiny random Gemma 3 (no download).

Two local (sliding-window) layers and one global one, qk-norm, two RoPE bases, a tied head, a window
of 8 tokens: a 12-token prompt crosses it, a 3-token one with 2 new tokens stays under it. What broke before ``builder_compat`` and
``model_options``: the builder 0.18 read transformers 5's nested ``rope_parameters`` as flat
(``KeyError: 'rope_type'``), and its window-sized caches made the runtime refuse every generation
with ``max_length`` under the window (the variant check's 8 included).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_workbench.engine.export.builder import model_options
from slm_workbench.engine.export.builder_compat import flatten_gemma3_rope

PROMPT = [2, 818, 5279, 529, 7001, 563, 17, 42, 99, 5, 7, 11]
NEW = 8


@pytest.fixture(scope="module")
def tiny_gemma3_dir(smollm2_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir)
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16,
        layer_types=["sliding_attention", "sliding_attention", "full_attention"], sliding_window=8,
        max_position_embeddings=256, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    model = Gemma3ForCausalLM(config)
    with torch.no_grad():  # weights large enough that the greedy choice is never a near tie
        for name, param in model.named_parameters():
            if "norm" not in name:
                param.normal_(0.0, 0.2)
    folder = tmp_path_factory.mktemp("tiny-gemma3")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_the_nested_rope_layout_is_flattened_for_the_builder():
    from transformers import Gemma3TextConfig

    config = Gemma3TextConfig(num_hidden_layers=2)
    assert "rope_type" not in config.rope_parameters  # transformers 5: one entry per layer type
    flatten_gemma3_rope(config)
    assert config.rope_parameters["rope_type"] == "default"
    assert (config.rope_theta, config.rope_local_base_freq) == (1_000_000.0, 10_000.0)


def test_only_sliding_window_models_get_full_caches(tiny_gemma3_dir: Path, tiny_model_dir: Path):
    assert model_options(tiny_gemma3_dir) == {"windowed_kv_cache": "false"}
    assert model_options(tiny_model_dir) == {}


def test_onnx_greedy_tokens_equal_pytorch_across_the_window(tiny_gemma3_dir: Path, slmw_home: Path):
    import numpy as np
    import onnxruntime_genai as og
    import torch
    from transformers import AutoModelForCausalLM

    from slm_workbench.config.presets import resolve_presets
    from slm_workbench.engine.export.export import export_variants
    from slm_workbench.engine.model_source import resolve_source

    [built] = export_variants(resolve_source(str(tiny_gemma3_dir)), resolve_presets("fp32"), work_dir=slmw_home / "work")

    model = AutoModelForCausalLM.from_pretrained(tiny_gemma3_dir, dtype=torch.float32).eval()
    config = og.Config(str(built.folder))
    config.clear_providers()
    onnx_model = og.Model(config)

    def torch_greedy(prompt: list[int], new: int) -> list[int]:
        ids = torch.tensor([prompt])
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, min_new_tokens=new,
                                 do_sample=False)
        return out[0, len(prompt):].tolist()

    def onnx_greedy(prompt: list[int], new: int) -> list[int]:
        params = og.GeneratorParams(onnx_model)
        params.set_search_options(do_sample=False, max_length=len(prompt) + new, batch_size=1)
        generator = og.Generator(onnx_model, params)
        generator.append_tokens(np.array([prompt], dtype=np.int32))
        got: list[int] = []
        while len(got) < new:
            generator.generate_next_token()
            got.append(int(generator.get_next_tokens()[0]))
        return got

    assert onnx_greedy(PROMPT, NEW) == torch_greedy(PROMPT, NEW)  # across the window
    assert onnx_greedy(PROMPT[:3], 2) == torch_greedy(PROMPT[:3], 2)  # max_length 5, under the window of 8
