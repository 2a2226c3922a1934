"""Build a missing variant on demand, so ``slmw chat MODEL:int4`` (or ``RUN:int4``) just works.

The export engine does the work exactly as ``slmw export`` would (a run's adapter merged
first, the variant loaded back, ``slmw_variant.json`` written, moved into place atomically);
this only turns its progress into status lines for the CLI or the Chat pane.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .. import paths
from ..errors import WorkbenchError


def build_on_demand(base: str, variant: str, *, on_status: Callable[[str], None] = lambda _text: None) -> Path:
    """Export ``base`` (a model or run) to the preset ``variant``; returns the variant folder."""
    from ..export.export import export_variants
    from ...config.presets import PRESETS, resolve_presets
    from ..export.merge import merge_adapter
    from ..model_source import resolve_source

    if variant not in PRESETS:
        raise WorkbenchError(f"variant {variant} is not built and is not a preset that can be built on demand",
                             hint=f"presets: {', '.join(PRESETS)}; or build it: slmw export {base} --variants ...")
    source = merge_adapter(resolve_source(base), log=lambda line: on_status(f"merging the adapter: {line}"))
    built = export_variants(
        source, resolve_presets([variant]), work_dir=paths.cache_dir() / "chat-export",
        on_progress=lambda name, message, _done, _total: on_status(f"building {name}: {message}"),
    )
    return built[0].folder


def build_lora_base_on_demand(base: str, variant: str, folder: Path, *,
                              on_status: Callable[[str], None] = lambda _text: None) -> Path:
    """Export the adapter base ``variant`` (``lora-fp32`` ...) of ``base`` (a model or run) into ``folder``."""
    from ..adapters.base import export_lora_base
    from ..export.merge import merge_adapter
    from ..model_source import resolve_source

    source = merge_adapter(resolve_source(base), log=lambda line: on_status(f"merging the adapter: {line}"))
    assert source.hf_folder is not None
    return export_lora_base(source.hf_folder, folder, precision=variant.removeprefix("lora-"),
                            work_dir=paths.cache_dir() / "chat-export", on_status=on_status)
