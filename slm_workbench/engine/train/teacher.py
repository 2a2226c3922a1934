"""Where a teacher is: the HF folder logit distillation loads, and the folder holding its tokenizer.

A teacher is named as any model is (a model reference or a training run, ``RUN:VARIANT`` stripped by
the caller). Training's logit distillation (``kd.py``) and the ``distill`` stage (which cuts its
student from the teacher) both resolve it here, so the training package needs nothing of ``distill``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def teacher_folder(spec: str, *, log: Callable[[str], None] = print) -> Path:
    """The teacher's PyTorch HF folder: a model reference's prepared folder, or a training run's
    merged or full model (its LoRA adapter merged into the base once, by ``export.merge``)."""
    from ..export.merge import merge_adapter
    from ..model_source import resolve_source

    source = resolve_source(spec)
    if source.hf_folder is None:
        source = merge_adapter(source, log)
    assert source.hf_folder is not None
    return source.hf_folder


def teacher_tokenizer_folder(spec: str) -> Path | None:
    """Where the teacher's tokenizer is, without loading or merging anything (launch checks);
    None when ``spec`` names nothing local yet (a model still to prepare)."""
    from ..model_source import resolve_source

    source = resolve_source(spec, prepared=False)
    if source.run is not None:
        folder = source.run.tokenizer_folder()
        if folder is None and source.run.has_model:
            folder = source.run.base_model()
        return folder
    return source.hf_folder
