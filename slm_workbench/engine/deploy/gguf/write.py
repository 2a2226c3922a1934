"""GGUF for a model that came from a GGUF: its tensors written into the source file's metadata.

The ``gguf`` package writes a file but knows nothing of a model: the vocabulary, the merges,
the pre-tokenizer name and the hyperparameter keys are what llama.cpp's converter works out
per architecture. A model the workbench converted from a GGUF (the built-in SmolLM2 and every
run fine-tuned from it: ``slmw_model.json`` names the file) already has all of that in its
source file, so the new file copies the source's metadata (architecture, tokenizer, chat
template) and only the tensors are new: the fine-tuned (merged) weights, in f16 or q8_0.

What this path supports, plainly: the architectures in ``PERMUTED`` (``llama``: the source's
tensor layout is known, including the Q/K row permutation llama.cpp applies to Llama
attention, which ``engine/models/gguf_convert.py`` undoes on the way in through transformers),
with the source's shapes and vocabulary unchanged (LoRA and full fine-tunes; not a model
whose vocabulary was resized or whose layers were pruned). Anything else needs llama.cpp's
own converter (``llamacpp.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ModelFormatError
from ...models.gguf_convert import PROVENANCE_FILE

PERMUTED: dict[str, tuple[str, ...]] = {"llama": ("attn_q", "attn_k")}
"""Architectures this writer knows, and the tensors llama.cpp stores with the rotary permutation."""

QUANT_BLOCK = 32
"""Q8_0 rows are quantized in blocks of 32; a row of another width is written in f16."""


def gguf_origin(hf_folder: Path) -> Path | None:
    """The GGUF file ``hf_folder`` was converted from (``slmw_model.json``), or None."""
    try:
        info = json.loads((Path(hf_folder) / PROVENANCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    source = info.get("source") if isinstance(info, dict) and info.get("converted_from") == "gguf" else None
    return Path(source) if isinstance(source, str) else None


def permute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """HF's rotary layout -> llama.cpp's (as llama.cpp's ``LlamaModel.permute``); transformers undoes it."""
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def llama_hparams(config: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    """The ``llama.*`` keys an HF Llama config means: key -> (value, GGUF value type name)."""
    heads = int(config["num_attention_heads"])
    head_dim = int(config.get("head_dim") or config["hidden_size"] // heads)
    rope = config.get("rope_theta") or (config.get("rope_parameters") or {}).get("rope_theta") or 10000.0
    return {
        "llama.block_count": (int(config["num_hidden_layers"]), "UINT32"),
        "llama.context_length": (int(config["max_position_embeddings"]), "UINT32"),
        "llama.embedding_length": (int(config["hidden_size"]), "UINT32"),
        "llama.feed_forward_length": (int(config["intermediate_size"]), "UINT32"),
        "llama.attention.head_count": (heads, "UINT32"),
        "llama.attention.head_count_kv": (int(config.get("num_key_value_heads") or heads), "UINT32"),
        "llama.rope.freq_base": (float(rope), "FLOAT32"),
        "llama.attention.layer_norm_rms_epsilon": (float(config["rms_norm_eps"]), "FLOAT32"),
        "llama.rope.dimension_count": (head_dim, "UINT32"),
        "llama.vocab_size": (int(config["vocab_size"]), "UINT32"),
    }


def _check_hparams(reader: Any, config: dict[str, Any], source: Path, folder: Path) -> None:
    rope = config.get("rope_scaling") or config.get("rope_parameters") or {}
    scaling = rope.get("rope_type", rope.get("type", "default")) if isinstance(rope, dict) else rope
    if scaling not in (None, "default"):
        raise ModelFormatError(f"{folder}: rope scaling {scaling!r} is not written by the workbench's GGUF writer")
    for key, (value, _kind) in llama_hparams(config).items():
        field = reader.fields.get(key)
        if field is None:
            continue
        have = field.contents()
        same = abs(float(have) - value) <= 1e-6 * max(1.0, abs(value)) if isinstance(value, float) else have == value
        if not same:
            raise ModelFormatError(f"{folder} no longer has the shape of {source.name}: {key} is {value}, "
                                   f"the GGUF says {have} (a resized or pruned model needs llama.cpp's converter)")


def load_tensors(folder: Path) -> dict[str, np.ndarray]:
    """The folder's safetensors weights as fp32 numpy arrays (bf16 and fp16 widened)."""
    import torch
    from safetensors.torch import load_file

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise ModelFormatError(f"{folder}: no safetensors weights")
    tensors: dict[str, np.ndarray] = {}
    for file in files:
        for name, tensor in load_file(str(file)).items():
            tensors[name] = tensor.to(torch.float32).numpy()
    return tensors


def gguf_tensors(tensors: dict[str, np.ndarray], arch: str, n_blocks: int, n_head: int, n_head_kv: int,
                 source_names: set[str]) -> dict[str, np.ndarray]:
    """HF tensors renamed (and Q/K permuted) as llama.cpp names them; tied heads dropped."""
    import gguf

    arch_id = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)
    names = gguf.get_tensor_name_map(arch_id, n_blocks)
    out: dict[str, np.ndarray] = {}
    for hf_name, data in tensors.items():
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise ModelFormatError(f"tensor {hf_name} has no {arch} GGUF name (an architecture change needs llama.cpp's converter)")
        kind = name.split(".")[-2]
        if kind in PERMUTED[arch]:
            data = permute(data, n_head if kind == "attn_q" else n_head_kv)
        out[name] = data
    embed, head = out.get("token_embd.weight"), out.get("output.weight")
    if "output.weight" not in source_names and head is not None and embed is not None and np.array_equal(head, embed):
        del out["output.weight"]  # tied to the embeddings, as in the source file
    if "output.weight" in source_names and head is None and embed is not None:
        out["output.weight"] = embed
    return out


def encode(name: str, data: np.ndarray, qtype: str) -> tuple[np.ndarray, Any]:
    """(bytes or array, GGML type) for one tensor: norms and vectors stay f32 as llama.cpp writes them."""
    import gguf

    T = gguf.GGMLQuantizationType
    if data.ndim == 1:
        return data.astype(np.float32), T.F32
    if qtype == "q8_0" and data.shape[-1] % QUANT_BLOCK == 0:
        return gguf.quants.quantize(data.astype(np.float32), T.Q8_0), T.Q8_0
    return data.astype(np.float16), T.F16


FILE_TYPES = {"f16": 1, "q8_0": 7}
"""``general.file_type`` (llama.cpp's ``LlamaFileType``: MOSTLY_F16, MOSTLY_Q8_0)."""
REPLACED = ("GGUF.", "general.architecture", "general.file_type", "general.name", "tokenizer.chat_template")


def write_like_source(hf_folder: Path, source: Path, out_path: Path, qtype: str, *, name: str,
                      chat_template: str | None, on_tensor: Callable[[int, int], None] = lambda done, total: None,
                      check_cancelled: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Write ``out_path``: ``source``'s metadata with ``hf_folder``'s tensors in ``qtype``."""
    import gguf

    reader = gguf.GGUFReader(source)
    arch = str(reader.fields["general.architecture"].contents())
    if arch not in PERMUTED:
        raise ModelFormatError(f"{source.name} is a {arch!r} GGUF; the workbench writes {', '.join(PERMUTED)} "
                               "GGUFs only (other architectures need llama.cpp's converter)")
    config = json.loads((hf_folder / "config.json").read_text(encoding="utf-8"))
    _check_hparams(reader, config, source, hf_folder)
    hp = llama_hparams(config)
    source_tensors = {t.name: tuple(int(d) for d in reversed(t.shape)) for t in reader.tensors}
    tensors = gguf_tensors(load_tensors(hf_folder), arch, hp["llama.block_count"][0],
                           hp["llama.attention.head_count"][0], hp["llama.attention.head_count_kv"][0],
                           set(source_tensors))
    missing = sorted(set(source_tensors) - set(tensors))
    if missing:
        raise ModelFormatError(f"{hf_folder} lacks {len(missing)} tensor(s) of {source.name}, e.g. {missing[0]}")
    for tname, shape in source_tensors.items():
        if tensors[tname].shape != shape:
            raise ModelFormatError(f"{hf_folder}: {tname} is {tensors[tname].shape}, {shape} in {source.name} "
                                   "(a resized model needs llama.cpp's converter)")
    check_cancelled()

    writer = gguf.GGUFWriter(str(out_path), arch)
    for key, field in reader.fields.items():
        if key.startswith(REPLACED):
            continue
        sub = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), field.types[0], sub_type=sub)
    writer.add_name(name)
    writer.add_file_type(FILE_TYPES[qtype])
    template = chat_template if chat_template is not None else reader.fields.get("tokenizer.chat_template")
    if template is not None:
        writer.add_chat_template(template if isinstance(template, str) else str(template.contents()))
    order = [t for t in source_tensors] + sorted(set(tensors) - set(source_tensors))
    types: dict[str, str] = {}
    for i, tname in enumerate(order):
        data, ggml_type = encode(tname, tensors.pop(tname), qtype)
        writer.add_tensor(tname, data, raw_dtype=ggml_type)
        types[ggml_type.name] = types.get(ggml_type.name, 0) + 1
        on_tensor(i + 1, len(order))
        if i % 16 == 0:
            check_cancelled()
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file(progress=False)
    writer.close()
    return {"architecture": arch, "tensors": len(order), "tensor_types": types, "metadata_from": str(source)}
