"""Which tokenizer a dataset is rendered with, loaded once per process.

``model`` is anything ``parse_model`` accepts (default: the built-in SmolLM2, which must be
prepared first), or a folder that holds only tokenizer files. ``chat_template`` (a shipped name
or a ``.jinja`` file, ``engine/models/chat_template.py``) replaces the model's own template, as
training with ``chat_template:`` does; ``template_tag`` says which template a loaded tokenizer
renders conversations with (the Data pane shows it over the sample).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..models.builtin import DEFAULT_MODEL
from ..models.chat_template import NAMED, apply_template, describe, load_template, template_text
from ..models.info import folder_template
from ..models.resolve import parse_model
from .issues import DataFormatError

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def tokenizer_folder(model: str | None) -> Path:
    spec = model or DEFAULT_MODEL
    path = Path(spec).expanduser()
    if path.is_dir() and any((path / name).is_file() for name in TOKENIZER_FILES):
        return path.resolve()
    return parse_model(spec).require_prepared()


_TAGS: dict[int, str] = {}
"""id of a tokenizer ``_load`` returned -> which template it renders with (they stay alive in its cache)."""


@lru_cache(maxsize=4)
def _load(folder: str, chat_template: str | None = None, _stamp: float | None = None) -> Any:
    from transformers import AutoTokenizer
    from transformers.utils import logging

    logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except Exception as exc:  # noqa: BLE001 - any loader failure is one line for the user
        raise DataFormatError(f"cannot load a tokenizer from {folder}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise DataFormatError(f"the tokenizer in {folder} is a slow (Python) tokenizer; the loss mask needs a fast one",
                              hint="a folder with tokenizer.json")
    if chat_template:
        chosen = load_template(chat_template)
        apply_template(tokenizer, chosen)
        _TAGS[id(tokenizer)] = chosen.tag
    else:
        recorded = folder_template(Path(folder))
        _TAGS[id(tokenizer)] = "the model's own" if recorded == "own" else describe(recorded)
    return tokenizer


def load_tokenizer(model: str | None = None, chat_template: str | None = None) -> Any:
    """The (cached) fast tokenizer of ``model``, with ``chat_template`` when given; raises a WorkbenchError
    with a hint otherwise."""
    stamp = None
    if chat_template and chat_template not in NAMED:  # an edited file is read again
        try:
            stamp = Path(chat_template).expanduser().stat().st_mtime
        except OSError:
            stamp = None
    return _load(str(tokenizer_folder(model)), chat_template or None, stamp)


def template_tag(tokenizer: Any) -> str:
    """Which chat template ``tokenizer`` renders conversations with: ``the model's own``, ``chatml``,
    ``gemma``, ``file NAME.jinja``, or ``none (base model)``."""
    tag = _TAGS.get(id(tokenizer))
    if tag is not None:
        return tag
    return "the model's own" if template_text(tokenizer) else "none (base model)"


def tokenizer_info(tokenizer: Any, model: str | None) -> dict[str, Any]:
    """What the manifest records, so a later stage can tell whether it tokenizes the same way."""
    folder = Path(tokenizer.name_or_path)
    file = folder / "tokenizer.json"
    template = getattr(tokenizer, "chat_template", None) or ""
    return {
        "model": model or DEFAULT_MODEL,
        "folder": str(folder),
        "class": type(tokenizer).__name__,
        "vocab_size": len(tokenizer),
        "eos_token": tokenizer.eos_token,
        "tokenizer_json_sha256": hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else None,
        "chat_template_sha256": hashlib.sha256(str(template).encode()).hexdigest() if template else None,
        "chat_template": template_tag(tokenizer),
    }
