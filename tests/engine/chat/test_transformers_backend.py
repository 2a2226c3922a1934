"""The transformers backend on the tiny model: streams what ``generate`` produces, stops on
request, samples reproducibly, and swaps LoRA adapters without reloading the base."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from slm_workbench.engine.chat.hf_backend import TransformersBackend
from slm_workbench.engine.chat.session import answer
from slm_workbench.engine.chat.types import GenParams

HELLO = [{"role": "user", "content": "Hello there"}]


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path) -> TransformersBackend:
    return TransformersBackend(tiny_model_dir, threads=1)


def raw_generate(backend: TransformersBackend, params: GenParams) -> list[int]:
    import torch

    ids = torch.tensor([backend.prompt_ids(HELLO, params)])
    with torch.inference_mode():
        out = backend.model.generate(ids, attention_mask=torch.ones_like(ids), **backend.generate_kwargs(params))
    return out[0, ids.shape[1]:].tolist()


def test_streams_exactly_what_generate_produces(backend: TransformersBackend) -> None:
    params = GenParams(max_new_tokens=24)
    deltas = list(backend.stream(HELLO, params))
    expected = raw_generate(backend, params)
    assert sum(d.tokens for d in deltas) == len(expected) == 24  # a random model does not stop early
    assert "".join(d.text for d in deltas) == backend.tokenizer.decode(expected, skip_special_tokens=True)


def test_answer_measures_the_stream(backend: TransformersBackend) -> None:
    reply = answer(backend, HELLO, GenParams(max_new_tokens=16))
    assert reply.tokens == 16 and reply.ttft_s is not None and reply.tok_s and reply.tok_s > 0
    assert not reply.stopped and reply.model == backend.label


def test_stop_mid_generation(backend: TransformersBackend) -> None:
    stop = threading.Event()
    seen = []

    def on_text(text: str) -> None:
        seen.append(text)
        if len(seen) == 3:
            stop.set()

    reply = answer(backend, HELLO, GenParams(max_new_tokens=400), stop=stop, on_text=on_text)
    assert reply.stopped and reply.tokens < 20


def test_seeded_sampling_repeats(backend: TransformersBackend) -> None:
    params = GenParams(temperature=1.0, top_p=0.9, max_new_tokens=12, seed=7)
    first = "".join(d.text for d in backend.stream(HELLO, params))
    assert first == "".join(d.text for d in backend.stream(HELLO, params))


def test_system_prompt_goes_first(backend: TransformersBackend) -> None:
    ids = backend.prompt_ids(HELLO, GenParams(system_prompt="Be brief."))
    text = backend.tokenizer.decode(ids)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>") and "Hello there" in text


def test_template_is_visible(backend: TransformersBackend) -> None:
    info = backend.template()
    assert info.text and "<|im_start|>" in info.text and info.summary.startswith("ChatML")


def test_lora_adapters_swap_without_reloading(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    folders = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        peft = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                              LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False))
        for p in peft.parameters():
            if p.requires_grad:
                p.data.normal_(0, 2.0)  # a strong adapter, so the greedy answer changes
        peft.save_pretrained(tmp_path / f"adapter{seed}")
        folders.append(tmp_path / f"adapter{seed}")

    backend = TransformersBackend(tiny_model_dir, threads=1)
    params = GenParams(max_new_tokens=10)
    base_answer = text_of(backend, params)
    base = backend.base
    backend.set_adapter(folders[0])
    one = text_of(backend, params)
    backend.set_adapter(folders[1])
    two = text_of(backend, params)
    backend.set_adapter(folders[0])  # already loaded: switched to, not loaded again
    one_again = text_of(backend, params)
    backend.set_adapter(None)
    again = text_of(backend, params)
    assert backend.base is base  # the same base weights throughout
    assert one != base_answer and two != one and one_again == one and again == base_answer
    assert len(backend.model.peft_config) == 2


def text_of(backend: TransformersBackend, params: GenParams) -> str:
    return "".join(d.text for d in backend.stream(HELLO, params))
