"""Packed batches with several rows per pass: each document attends only to itself, so the loss and
the gradients are those of the same examples unpacked (padded, one per row)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from slm_workbench.config.train import TrainRecipe
from slm_workbench.engine.train.arguments import micro_batches, sft_config
from slm_workbench.engine.train.attention import PACKED_ATTENTION, attention_for, packed_sdpa_attention, register


def examples(n: int = 11, seed: int = 3) -> list[dict]:
    """Conversations of 5-40 tokens whose first few tokens (the prompt) carry no label."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        length = rng.randint(5, 40)
        ids = [rng.randrange(10, 4000) for _ in range(length)]
        prompt = rng.randint(1, length // 2)
        rows.append({"input_ids": ids, "labels": [-100] * prompt + ids[prompt:]})
    return rows


def unpacked_batch(rows: list[dict]):
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    return DataCollatorForLanguageModeling(pad_token_id=0)(rows)


def packed_batch(rows: list[dict], seq_length: int = 64):
    """TRL's own path: best-fit-decreasing packing into rows of ``seq_length``, then the padding-free
    collator flattening every packed row of the batch into one sequence."""
    from datasets import Dataset
    from trl.data_utils import pack_dataset
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    packed = pack_dataset(Dataset.from_list(rows), seq_length, strategy="bfd")
    assert len(packed) < len(rows)  # several documents share a row
    return DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)(list(packed))


def load(folder: Path, attention: str):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation=attention)
    model.config.use_cache = False
    return model.train()


def loss_and_grads(model, batch):
    model.zero_grad()
    loss = model(**batch).loss
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def test_packed_loss_and_gradients_equal_unpacked(tiny_model_dir: Path) -> None:
    import torch

    rows = examples()
    plain = load(tiny_model_dir, "sdpa")
    packed = load(tiny_model_dir, register())
    batch = packed_batch(rows)
    assert batch["input_ids"].shape[0] == 1 and len(batch["cu_seq_lens_q"]) == len(rows) + 1
    ref_loss, ref_grads = loss_and_grads(plain, unpacked_batch(rows))
    loss, grads = loss_and_grads(packed, batch)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-6)
    assert grads.keys() == ref_grads.keys() and len(grads) > 10
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref_grads[name], rtol=1e-4, atol=1e-6, msg=name)

    # the check can fail: one boundary list spanning the batch lets documents attend to each other
    leaky = {**batch, "cu_seq_lens_q": torch.tensor([0, batch["input_ids"].shape[1]], dtype=torch.int32)}
    leaky["cu_seq_lens_k"] = leaky["cu_seq_lens_q"]
    with torch.no_grad():
        assert abs(packed(**leaky).loss - ref_loss) > 1e-3


def test_each_document_attends_only_to_itself() -> None:
    """The kernel against SDPA under an explicit block-diagonal causal mask, grouped-query heads included."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    module = nn.Module()
    module.num_key_value_groups = 3
    cuts = [0, 7, 8, 30, 51]
    q = torch.randn(1, 6, 51, 16, requires_grad=True)
    k = torch.randn(1, 2, 51, 16, requires_grad=True)
    v = torch.randn(1, 2, 51, 16, requires_grad=True)
    out, _ = packed_sdpa_attention(module, q, k, v, None, scaling=0.25,
                                   cu_seq_lens_q=torch.tensor(cuts, dtype=torch.int32))
    doc = torch.zeros(51, dtype=torch.long)
    for i, start in enumerate(cuts[1:-1], 1):
        doc[start:] = i
    mask = (doc[:, None] == doc[None, :]) & torch.ones(51, 51, dtype=torch.bool).tril()
    ref = nn.functional.scaled_dot_product_attention(q, k.repeat_interleave(3, 1), v.repeat_interleave(3, 1),
                                                     attn_mask=mask, scale=0.25).transpose(1, 2)
    assert out.shape == (1, 51, 6, 16)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    ref_grads = torch.autograd.grad(ref.square().sum(), (q, k, v))
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_boundaries_that_do_not_cover_the_sequence_are_refused() -> None:
    import torch
    from torch import nn

    q = torch.randn(1, 2, 10, 8)
    with pytest.raises(ValueError, match="boundaries end at 9, the sequence has 10 tokens"):
        packed_sdpa_attention(nn.Module(), q, q, q, None, cu_seq_lens_q=torch.tensor([0, 4, 9]))


def test_a_batch_without_boundaries_is_plain_sdpa(tiny_model_dir: Path) -> None:
    """Unpacked rows (eval, or any padded batch) through the packed model: the library's SDPA path."""
    import torch

    rows = examples(4)
    plain, packed = load(tiny_model_dir, "sdpa"), load(tiny_model_dir, register())
    batch = unpacked_batch(rows)
    with torch.no_grad():
        torch.testing.assert_close(packed(**batch).loss, plain(**batch).loss)


def recipe(**fields) -> TrainRecipe:
    return TrainRecipe(model="m", data="d", **{"batch_size": 4, "grad_accum": 2, **fields})


def test_packing_jobs_load_per_document_attention_and_pass_rows_by_device(tmp_path: Path) -> None:
    """A pass takes one packed row on a CPU (smaller activations ran faster there), the whole batch on a GPU."""
    assert attention_for(recipe(packing=True)) == PACKED_ATTENTION
    assert attention_for(recipe()) is None
    assert micro_batches(recipe(packing=True), PACKED_ATTENTION) == (1, 8)
    assert micro_batches(recipe(packing=True), PACKED_ATTENTION, on_gpu=True) == (4, 2)
    assert micro_batches(recipe(), PACKED_ATTENTION) == (4, 2)
    args = sft_config(recipe(packing=True), tmp_path, steps=10, has_eval=False, attn_implementation=PACKED_ATTENTION)
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (1, 8)
