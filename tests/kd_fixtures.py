"""Models for the student and logit-distillation tests (registered in the root conftest).

- ``tiny_deep_model_dir``: a random 6-layer Llama (hidden 64, tied head) with SmolLM2's
  tokenizer and chat template: a teacher with layers to cut.
- ``other_vocab_model_dir``: a random 2-layer Llama with a small BPE vocabulary of its own
  (trained here on a few sentences) and the same chat template: a teacher no logit KD can use.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def _tiny_llama(tokenizer, layers: int):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(1)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


@pytest.fixture(scope="session")
def tiny_deep_model_dir(smollm2_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir)
    folder = tmp_path_factory.mktemp("tiny-llama-6")
    _tiny_llama(tokenizer, 6).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def other_vocab_model_dir(smollm2_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    smol = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    backend = Tokenizer(models.BPE(unk_token=None))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    text = ["Where does user 1 live? User 1 lives in Oslo.", "The quick brown fox jumps over the lazy dog."] * 20
    backend.train_from_iterator(text, trainers.BpeTrainer(vocab_size=300, special_tokens=specials,
                                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>", bos_token="<|im_start|>",
                                        pad_token="<|endoftext|>")
    tokenizer.chat_template = smol.chat_template
    folder = tmp_path_factory.mktemp("tiny-other-vocab")
    _tiny_llama(tokenizer, 2).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
