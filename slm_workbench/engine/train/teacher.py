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
    merged or full model (its LoRA adapter merged into the base once, by ``export.source``)."""
    from ..export.source import merge_adapter, resolve_source

    source = resolve_source(spec)
    if source.hf_folder is None:
        source = merge_adapter(source, log)
    assert source.hf_folder is not None
    return source.hf_folder


def teacher_tokenizer_folder(spec: str) -> Path | None:
    """Where the teacher's tokenizer is, without loading or merging anything (launch checks);
    None when ``spec`` names nothing local yet (a model still to prepare)."""
    from ..errors import ModelNotFoundError
    from ..models.resolve import parse_model
    from ..runs.run import Run

    try:
        ref = parse_model(spec)
    except ModelNotFoundError:
        run = Run.find(spec)
        if run is None:
            raise
        folder = run.tokenizer_folder()
        if folder is None and run.has_model:
            folder = run.base_model()
        return folder
    return ref.folder if ref.prepared else None
