"""Per-document attention for packed batches without a varlen kernel: ``sdpa_packed``.

TRL's best-fit-decreasing packing flattens a batch of packed rows into ONE sequence and hands
the model the document boundaries (``cu_seq_lens_q``, from ``position_ids``). Flash-attention
reads them; SDPA and eager do not, and transformers then masks the whole flattened sequence
densely (block-diagonal), paying attention over every token pair of the batch. This attention
function is SDPA run once per document with ``is_causal=True``: each document attends only to
itself, exactly as it would alone, at the cost of its own length squared (not the row's, nor
the flattened batch's); the linear layers still see every token of the pass at once. How many
packed rows a pass takes is engine/train/arguments.py's ``micro_batches``. It is registered with
transformers' ``AttentionInterface`` (and ``sdpa``'s mask function), so any batch without
boundaries (eval of unpacked data, generation with a cache) goes through plain ``sdpa``.
"""

from __future__ import annotations

from typing import Any

from ...config.train import TrainRecipe

PACKED_ATTENTION = "sdpa_packed"


def attention_for(recipe: TrainRecipe) -> str | None:
    """The attention a training job loads the model with: ``sdpa_packed`` when packing (not for
    logit distillation, whose collator keeps one conversation per row), else the library's default."""
    return PACKED_ATTENTION if recipe.packing and recipe.distill is None else None


def register() -> str:
    """Make ``sdpa_packed`` known to transformers (idempotent); returns its name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(PACKED_ATTENTION, packed_sdpa_attention)
    AttentionMaskInterface.register(PACKED_ATTENTION, sdpa_mask)
    return PACKED_ATTENTION


def packed_sdpa_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
                          dropout: float = 0.0, scaling: float | None = None, is_causal: bool | None = None,
                          **kwargs: Any) -> tuple[Any, None]:
    """``sdpa_attention_forward``'s contract (query ``[1, heads, tokens, dim]`` in, ``[1, tokens, heads,
    dim]`` out); documents from ``cu_seq_lens_q`` when the batch is one flattened packed sequence."""
    import torch
    from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward

    bounds = kwargs.get("cu_seq_lens_q")
    if (bounds is None or query.shape[0] != 1 or query.shape[2] != key.shape[2]
            or kwargs.get("output_attentions") or kwargs.get("softcap") is not None):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    groups = getattr(module, "num_key_value_groups", 1)
    if groups > 1:  # once for the whole sequence: SDPA's fast CPU kernel takes no enable_gqa
        key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    cuts = [int(x) for x in bounds.tolist()]
    if cuts[-1] != query.shape[2]:
        raise ValueError(f"packed batch: the document boundaries end at {cuts[-1]}, the sequence has "
                         f"{query.shape[2]} tokens")
    parts = [
        torch.nn.functional.scaled_dot_product_attention(
            query[:, :, a:b], key[:, :, a:b], value[:, :, a:b], dropout_p=dropout, scale=scaling, is_causal=True)
        for a, b in zip(cuts[:-1], cuts[1:]) if b > a
    ]
    out = parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)
    return out.transpose(1, 2).contiguous(), None
