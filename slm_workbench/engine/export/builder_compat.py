"""Run ONNX Runtime GenAI's model builder with the fixes it needs for the models the workbench ships.

``python -m slm_workbench.engine.export.builder_compat ARGS`` is ``python -m
onnxruntime_genai.models.builder ARGS`` after one patch, for Gemma 3 under transformers 5:

transformers 5 keeps Gemma 3's two RoPE bases as ``rope_parameters = {"full_attention":
{"rope_theta": 1e6, ...}, "sliding_attention": {"rope_theta": 1e4, ...}}`` and no longer has
``rope_local_base_freq``. The builder 0.18's ``Gemma3Model`` reads ``rope_parameters["rope_type"]``
(``KeyError: 'rope_type'``) and ``config.rope_local_base_freq`` (the old flat layout); its Gemma 4
builder reads the nested layout, its Gemma 3 builder does not. Before ``Gemma3Model`` is built, the
nested layout is turned back into the flat one it expects: the global layers' parameters as
``rope_parameters`` (so ``rope_theta`` is 1e6, not the builder's default 1e4) and the sliding
layers' base as ``rope_local_base_freq``. Nothing else changes, and other models are untouched.
"""

from __future__ import annotations

import runpy
from typing import Any


def flatten_gemma3_rope(config: Any) -> None:
    """Rewrite a transformers-5 Gemma 3 config's per-layer-type RoPE into the builder's flat layout."""
    params = getattr(config, "rope_parameters", None)
    if not isinstance(params, dict) or "full_attention" not in params or "sliding_attention" not in params:
        return
    full, sliding = dict(params["full_attention"]), dict(params["sliding_attention"])
    config.rope_parameters = full
    config.rope_theta = full["rope_theta"]
    config.rope_local_base_freq = sliding["rope_theta"]


def patch_builder() -> None:
    """Patch ``Gemma3Model`` where ``builder.py`` takes it from: the top-level ``builders`` package
    (``onnxruntime_genai.models`` puts its own folder on ``sys.path``; ``builder.py`` imports
    ``from builders import ...``, a second copy of the classes beside ``onnxruntime_genai.models.builders``)."""
    import importlib

    importlib.import_module("onnxruntime_genai.models")
    gemma = importlib.import_module("builders.gemma")
    cls = gemma.Gemma3Model
    original = cls.__init__
    if getattr(original, "_slmw_patched", False):
        return

    def __init__(self: Any, config: Any, *args: Any, **kwargs: Any) -> None:
        if type(self) is cls:  # Gemma 4 subclasses read the nested layout themselves
            flatten_gemma3_rope(config)
        original(self, config, *args, **kwargs)

    __init__._slmw_patched = True  # type: ignore[attr-defined]
    cls.__init__ = __init__  # type: ignore[method-assign]


if __name__ == "__main__":
    patch_builder()
    runpy.run_module("onnxruntime_genai.models.builder", run_name="__main__", alter_sys=True)
