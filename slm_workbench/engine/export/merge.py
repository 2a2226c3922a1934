"""A training run's LoRA adapter merged into its base once, for what needs a whole model
(export, compare, a distillation teacher, a GGUF): kept in the run's ``artifacts/merged``.

What a reference names (a model, a run, ``RUN:VARIANT`` ...) is ``engine/sources.py``'s to say.
"""

from __future__ import annotations

from dataclasses import replace

from ..model_source import ModelSource
from ..models.chat_template import add_stop_ids


def merge_adapter(source: ModelSource, log: callable = print) -> ModelSource:  # type: ignore[valid-type]
    """Merge a run's LoRA adapter into its base once, into ``artifacts/merged`` (atomic)."""
    if source.hf_folder is not None:
        return source
    assert source.run is not None and source.adapter is not None and source.base_folder is not None
    import os
    import shutil

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = source.run.merged_dir
    partial = target.parent / f".merged.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    log(f"merging {source.adapter} into {source.base_folder}")
    try:
        base = AutoModelForCausalLM.from_pretrained(source.base_folder, dtype=torch.float32)
        merged = PeftModel.from_pretrained(base, source.adapter).merge_and_unload()
        tok_dir = source.adapter if (source.adapter / "tokenizer_config.json").is_file() else source.base_folder
        tokenizer = AutoTokenizer.from_pretrained(tok_dir)
        add_stop_ids(merged.generation_config, tokenizer)  # the run's chat template may end turns on another token
        merged.save_pretrained(partial, safe_serialization=True)
        tokenizer.save_pretrained(partial)
        os.replace(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return replace(source, hf_folder=target)
