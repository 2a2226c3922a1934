"""Backends are plugins: a kind names a ``module:Class`` imported only when first opened.

Neither the TUI nor the CLI parser pays for torch or onnxruntime until a model is opened
(the PEFT ``tuners`` pattern). A third-party backend registers itself with
``register_backend("mykind", "package.module:Class")``; its class takes the target's
folder (or URL) as its first argument and satisfies ``ChatBackend``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..adapters.base import is_lora_variant, lora_base_outdated
from ..adapters.lora import split_adapter_model
from ..errors import WorkbenchError
from ..models.variants import require_variant, variant_complete
from .locate import Target, resolve_target
from .types import DEFAULT_KEY_ENV, ChatBackend

BACKENDS: dict[str, str] = {
    "transformers": "slm_workbench.engine.chat.hf_backend:TransformersBackend",
    "onnx": "slm_workbench.engine.chat.og_backend:OnnxGenaiBackend",
    "http": "slm_workbench.engine.chat.http_backend:HttpBackend",
}


def register_backend(kind: str, target: str) -> None:
    BACKENDS[kind] = target


def backend_class(kind: str) -> Any:
    try:
        module, _, name = BACKENDS[kind].partition(":")
    except KeyError:
        raise WorkbenchError(f"no chat backend '{kind}' (known: {', '.join(sorted(BACKENDS))})") from None
    return getattr(importlib.import_module(module), name)


def require_chat_template(target: Target) -> None:
    """One line, before anything loads, for a model whose tokenizer has no chat template (a base model):
    chat and serve render conversations with it. A variant not built yet is checked once it is."""
    from ..models.chat_template import has_template_files, no_template

    if target.kind == "http" or target.folder is None or not target.folder.is_dir():
        return
    adapter = Path(target.adapter) if target.adapter else None
    folder = adapter if adapter is not None and (adapter / "tokenizer_config.json").is_file() else target.folder
    if (folder / "tokenizer_config.json").is_file() and not has_template_files(folder):
        raise no_template(target.spec)


def open_backend(spec: str | Target, *, adapter: str | None = None, endpoint_model: str | None = None,
                 api_key_env: str = DEFAULT_KEY_ENV, threads: int | None = None, build: bool = True,
                 isolate: bool = False, on_status: Callable[[str], None] | None = None) -> ChatBackend:
    """Open (load) the backend for a target; a preset variant not built yet is built first.

    ``isolate``: load and run a local model in a child process (``isolated.py``), so the
    caller's threads keep the GIL; what a UI wants. Endpoints are always in-process."""
    target = spec if isinstance(spec, Target) else resolve_target(spec, adapter=adapter)
    require_chat_template(target)
    say = on_status or (lambda _text: None)
    if isolate and target.kind != "http":
        from .isolated import ProcessBackend

        options = {"adapter": str(target.adapter) if target.adapter else None, "threads": threads, "build": build}
        say(f"starting a model process for {target.spec}")
        return ProcessBackend(target.spec, options, on_status=on_status)
    cls = backend_class(target.kind)
    if target.kind == "http":
        say(f"connecting to {target.spec}")
        return cls(target.spec, model=endpoint_model, api_key_env=api_key_env)
    assert target.folder is not None
    outdated = target.kind == "onnx" and is_lora_variant(target.variant) and lora_base_outdated(target.folder)
    if target.kind == "onnx" and is_lora_variant(target.variant) and (outdated or not variant_complete(target.folder)):
        from .variant_build import build_lora_base_on_demand

        base_spec = split_adapter_model(target.spec)[0]
        if not build and outdated:
            raise WorkbenchError(f"the adapter base {base_spec} at {target.folder} was built by an older workbench",
                                 hint=f"open it once (slmw chat {base_spec}): it is rebuilt on first use")
        if not build:
            require_variant(target.folder, base_spec)
        say(f"building the adapter base {base_spec} "
            f"({'an older workbench built it' if outdated else 'it is not built yet'})…")
        build_lora_base_on_demand(base_spec.rpartition(":")[0], target.variant, target.folder, on_status=say)
    elif target.kind == "onnx" and target.variant and not variant_complete(target.folder):
        if not build:
            require_variant(target.folder, target.spec)
        from .variant_build import build_on_demand

        say(f"building variant {target.spec} (it is not built yet)…")
        build_on_demand(target.spec.rpartition(":")[0], target.variant, on_status=say)
    require_chat_template(target)
    say(f"loading {target.spec}")
    if target.kind == "transformers":
        return cls(target.folder, label=target.label, adapter=target.adapter, threads=threads)
    if target.kind == "onnx":
        return cls(target.folder, label=target.label, threads=threads, adapter=target.onnx_adapter)
    return cls(target.folder, label=target.label, threads=threads)
