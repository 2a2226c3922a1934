"""Make a model reference usable: convert a GGUF or fetch a hub id into ``<home>/models``.

Only one preparation of a given model runs at a time (a lock file beside the folder); a
second one waits, then finds the folder ready.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from .. import paths
from ..errors import ModelNotFoundError
from ..fsutil import built_aside, pid_alive
from .builtin import BUILTIN_MODELS
from .gguf_convert import Phase, convert_gguf, verify_hf_folder
from .resolve import ModelRef


def prepare_model(
    ref: ModelRef,
    *,
    force: bool = False,
    on_phase: Phase = lambda phase, done, total: None,
    check_cancelled: Callable[[], None] = lambda: None,
) -> Path:
    if ref.kind == "folder":
        return ref.require_prepared()
    paths.ensure_writable_dir(ref.folder.parent, "workbench models folder")
    lock_path = ref.folder.parent / f".{ref.folder.name}.lock"
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_phase(f"waiting for another job preparing {ref.name}", 0, 0)
            fcntl.flock(lock, fcntl.LOCK_EX)
        _remove_stale_partials(ref.folder)
        if ref.prepared and not force:
            on_phase("already prepared", 1, 1)
            return ref.folder
        if ref.kind == "builtin":
            builtin = BUILTIN_MODELS[ref.name]
            return convert_gguf(
                builtin.gguf_path(on_phase), ref.folder, display_name=ref.name, upstream=builtin.upstream,
                on_phase=on_phase, check_cancelled=check_cancelled,
            )
        if ref.kind == "gguf":
            return convert_gguf(
                Path(ref.source), ref.folder, display_name=ref.name, on_phase=on_phase, check_cancelled=check_cancelled
            )
        return _download(ref, on_phase)


def _remove_stale_partials(folder: Path) -> None:
    """Partial folders left by a killed conversion (their pid is gone)."""
    for partial in folder.parent.glob(f".{folder.name}.partial-*"):
        pid = partial.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)


def _download(ref: ModelRef, on_phase: Phase) -> Path:
    """Fetch a hub model's weights, config and tokenizer (network only here)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    patterns = ["*.json", "*.safetensors", "tokenizer*", "*.model", "*.txt", "*.jinja"]
    on_phase(f"downloading {ref.source}", 0, 2)
    with built_aside(ref.folder, f"downloading {ref.source} into") as partial:
        try:
            snapshot_download(ref.source, local_dir=partial, allow_patterns=patterns, local_files_only=offline)
        except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
            why = "HF_HUB_OFFLINE is set and it is not in the local hub cache" if offline else "the hub cannot be reached"
            raise ModelNotFoundError(f"cannot fetch hub model {ref.source}: {why}") from exc
        except HfHubHTTPError as exc:
            raise ModelNotFoundError(f"cannot fetch hub model {ref.source}: {exc}") from exc
        shutil.rmtree(partial / ".cache", ignore_errors=True)
        on_phase("verifying the downloaded folder", 1, 2)
        verify_hf_folder(partial)
    on_phase("done", 2, 2)
    return ref.folder
