"""Make a model reference usable: convert a GGUF or fetch a hub id into ``<home>/models``.

Only one preparation of a given model runs at a time (a lock file beside the folder); a
second one waits, then finds the folder ready.

A chat template chosen for the model (``--chat-template``, ``chat_template.py``) goes into the
tokenizer of the folder written: during the conversion of a GGUF or the download of a hub id,
and for a folder already there (prepared before, or a local HF folder) by writing a copy with
the new tokenizer files beside it and swapping it in (``retemplate``); the weights are linked,
not copied, where the disk allows.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from .. import paths
from ..errors import ModelNotFoundError, WorkbenchError
from ..fsutil import built_aside, pid_alive
from .builtin import BUILTIN_MODELS
from .chat_template import PROVENANCE_KEY, ChosenTemplate, add_stop_ids, apply_template, load_template
from .gguf_convert import PROVENANCE_FILE, Phase, convert_gguf, verify_hf_folder
from .info import folder_template
from .resolve import ModelRef, slug

REWRITTEN = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
             "chat_template.json", "generation_config.json", PROVENANCE_FILE)
"""Files ``retemplate`` writes anew; everything else of the folder is linked or copied."""


def prepare_model(
    ref: ModelRef,
    *,
    force: bool = False,
    chat_template: str | None = None,
    on_phase: Phase = lambda phase, done, total: None,
    check_cancelled: Callable[[], None] = lambda: None,
) -> Path:
    """The model's HF folder, prepared now if needed; ``chat_template`` (a shipped name or a ``.jinja``
    file) is written into its tokenizer. Returns the folder (for a local folder given a template: its
    templated copy under ``<home>/models``)."""
    chosen = load_template(chat_template) if chat_template else None
    if ref.kind == "folder":
        folder = ref.require_prepared()
        if chosen is None:
            return folder
        return _retemplate_locked(folder, template_target(ref), chosen, force=force, on_phase=on_phase)
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
            if chosen is not None and not has_template(ref.folder, chosen):
                return retemplate(ref.folder, ref.folder, chosen, on_phase=on_phase)
            on_phase("already prepared", 1, 1)
            return ref.folder
        if ref.kind == "builtin":
            builtin = BUILTIN_MODELS[ref.name]
            return convert_gguf(
                builtin.gguf_path(on_phase), ref.folder, display_name=ref.name, upstream=builtin.upstream,
                chat_template=chosen, on_phase=on_phase, check_cancelled=check_cancelled,
            )
        if ref.kind == "gguf":
            return convert_gguf(
                Path(ref.source), ref.folder, display_name=ref.name, chat_template=chosen,
                on_phase=on_phase, check_cancelled=check_cancelled,
            )
        return _download(ref, on_phase, chosen)


def _remove_stale_partials(folder: Path) -> None:
    """Partial folders left by a killed conversion (their pid is gone)."""
    for partial in folder.parent.glob(f".{folder.name}.partial-*"):
        pid = partial.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)


def template_target(ref: ModelRef) -> Path:
    """Where a local folder given a template is written: itself when it is under ``<home>/models``,
    else ``<home>/models/<its name>``."""
    models = paths.models_dir()
    return ref.folder if ref.folder.parent.resolve() == models.resolve() else models / slug(ref.folder.name)


def has_template(folder: Path, chosen: ChosenTemplate) -> bool:
    """Whether ``folder`` is recorded with ``chosen`` and its tokenizer holds that text (a file edited since is not)."""
    if folder_template(folder) != chosen.name:
        return False
    jinja = folder / "chat_template.jinja"
    try:
        text = jinja.read_text(encoding="utf-8") if jinja.is_file() else json.loads(
            (folder / "tokenizer_config.json").read_text(encoding="utf-8")).get("chat_template")
    except (OSError, ValueError, AttributeError):
        return False
    return text == chosen.text


def _retemplate_locked(source: Path, target: Path, chosen: ChosenTemplate, *, force: bool, on_phase: Phase) -> Path:
    paths.ensure_writable_dir(target.parent, "workbench models folder")
    with open(target.parent / f".{target.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "config.json").is_file() and has_template(target, chosen) and not force:
            on_phase("already prepared", 1, 1)
            return target
        if target.resolve() != source.resolve() and (target / "config.json").is_file():
            if not force and _recorded_source(target) != str(source):
                raise WorkbenchError(f"{target} already holds another model ({_recorded_source(target) or 'unknown source'});"
                                     f" {source} with the {chosen.tag} template would replace it",
                                     hint="--reconvert replaces it")
        return retemplate(source, target, chosen, on_phase=on_phase)


def _recorded_source(folder: Path) -> str | None:
    """The folder a templated copy was written from, else the source its provenance names."""
    try:
        info = json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
        return info.get("templated_from") or info.get("source")
    except (OSError, ValueError, AttributeError):
        return None


def retemplate(source: Path, target: Path, chosen: ChosenTemplate, *, on_phase: Phase) -> Path:
    """Write ``target`` as ``source`` whose tokenizer has the ``chosen`` template (and whose generation
    config stops on its end of turn); built aside, so a failure leaves ``target`` as it was."""
    from transformers import AutoTokenizer, GenerationConfig

    on_phase(f"checking {chosen.where}", 0, 3)
    tokenizer = AutoTokenizer.from_pretrained(source)
    apply_template(tokenizer, chosen)  # a template that does not fit fails here, before anything is written
    on_phase(f"writing the {chosen.tag} template", 1, 3)
    with built_aside(target, f"writing the {chosen.tag} template into") as partial:
        for item in source.iterdir():
            if item.name in REWRITTEN or item.name.startswith("."):
                continue
            _link_or_copy(item, partial / item.name)
        tokenizer.save_pretrained(partial)
        has_config = (source / "generation_config.json").is_file()
        generation = GenerationConfig.from_pretrained(source) if has_config else GenerationConfig(
            eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
        add_stop_ids(generation, tokenizer)
        generation.save_pretrained(partial)
        _write_provenance(source, partial, chosen, target)
        on_phase("verifying the folder", 2, 3)
        verify_hf_folder(partial)
    on_phase("done", 3, 3)
    return target


def _link_or_copy(item: Path, dest: Path) -> None:
    """Weights are hard-linked (never written again); small files are copied, so rewriting one in the
    new folder can never change the source's."""
    if item.is_dir():
        shutil.copytree(item, dest, copy_function=_link_or_copy_file)
    else:
        _link_or_copy_file(item, dest)


def _link_or_copy_file(src: str | Path, dest: str | Path) -> None:
    if Path(src).suffix in (".safetensors", ".bin", ".gguf", ".onnx", ".data"):
        try:
            os.link(src, dest)
            return
        except OSError:
            pass
    shutil.copy2(src, dest)


def _write_provenance(source: Path, folder: Path, chosen: ChosenTemplate, target: Path) -> None:
    """``folder`` (``target`` being written aside) records ``chosen``, and the folder it was copied from."""
    try:
        info = json.loads((source / PROVENANCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {"name": target.name, "source": str(source), "converted_from": "folder", "created": time.time()}
    info[PROVENANCE_KEY] = chosen.name
    info["chat_template_set"] = time.time()
    if source.resolve() != target.resolve():
        info["templated_from"] = str(source)
    (folder / PROVENANCE_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def _download(ref: ModelRef, on_phase: Phase, chosen: ChosenTemplate | None = None) -> Path:
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
        if chosen is not None:
            _template_in_place(partial, chosen, ref)
        on_phase("verifying the downloaded folder", 1, 2)
        verify_hf_folder(partial)
    on_phase("done", 2, 2)
    return ref.folder


def _template_in_place(folder: Path, chosen: ChosenTemplate, ref: ModelRef) -> None:
    """Give a freshly downloaded folder (still aside) the chosen template."""
    from transformers import AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(folder)
    apply_template(tokenizer, chosen)
    tokenizer.save_pretrained(folder)
    generation = GenerationConfig.from_pretrained(folder) if (folder / "generation_config.json").is_file() else \
        GenerationConfig(eos_token_id=tokenizer.eos_token_id)
    add_stop_ids(generation, tokenizer)
    generation.save_pretrained(folder)
    info = {"name": ref.name, "source": ref.source, "converted_from": "hub", PROVENANCE_KEY: chosen.name,
            "created": time.time()}
    (folder / PROVENANCE_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
