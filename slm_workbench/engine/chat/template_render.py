"""Render one conversation to token ids along each path a fine-tuned model travels.

- training: the tokenizer saved with the run (or the model's), rendered by the data
  engine's encoder, exactly as the trainer saw it;
- exported: the variant folder's own tokenizer and chat template (``og.Tokenizer``), as any
  ONNX Runtime GenAI host renders it;
- serving: the prompt ``slmw serve`` / the chat backend actually feeds the variant;
- foundry: the ``PromptTemplate`` of an ``inference_model.json`` beside the variant, the
  template Foundry Local uses instead of the Jinja one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .types import GenParams, Message


@dataclass
class Rendering:
    path: str
    """``training``, ``exported int4``, ``serving int4``, ``foundry int4`` ..."""
    source: str
    text: str = ""
    ids: list[int] | None = None
    end_of_turn: int | None = None
    """training only: the token that ends an assistant turn (the one the model learns to stop on)."""
    error: str | None = None


def training_rendering(tokenizer: Any, conversation: list[Message], source: str, *, prompt: bool) -> Rendering:
    """The trainer's ids for the whole conversation, or for the prompt before its last answer."""
    out = Rendering("training", source)
    try:
        if prompt:
            out.text = tokenizer.apply_chat_template(conversation[:-1], tokenize=False, add_generation_prompt=True)
            out.ids = tokenizer(out.text, add_special_tokens=False)["input_ids"]
            return out
        try:
            from ..data.encode import Encoder

            ids, ranges, text = Encoder(tokenizer).encode_ranges([{"messages": conversation}])[0]
            out.ids, out.text = list(ids), text
            if ranges:
                out.end_of_turn = int(ids[ranges[-1][1] - 1])
        except ImportError:
            out.text = tokenizer.apply_chat_template(conversation, tokenize=False)
            out.ids = tokenizer(out.text, add_special_tokens=False)["input_ids"]
    except Exception as exc:  # noqa: BLE001 - a template refusing a conversation is a finding
        out.error = f"{type(exc).__name__}: {exc}"
    return out


def variant_renderings(backend: Any, name: str, conversation: list[Message], *, prompt: bool) -> list[Rendering]:
    """Exported (the folder's template) and serving (the backend's prompt path) renderings."""
    exported = Rendering(f"exported {name}", backend.template().source)
    try:
        exported.text = backend.render(conversation[:-1] if prompt else conversation, add_generation_prompt=prompt)
        exported.ids = backend.encode(exported.text)
    except Exception as exc:  # noqa: BLE001
        exported.error = f"{type(exc).__name__}: {exc}"
    found = [exported]
    if prompt:
        serving = Rendering(f"serving {name}", f"slmw serve / chat ({backend.kind})")
        try:
            serving.ids = backend.prompt_ids(conversation[:-1], GenParams())
            serving.text = exported.text if serving.ids == exported.ids else ""
        except Exception as exc:  # noqa: BLE001
            serving.error = f"{type(exc).__name__}: {exc}"
        found.append(serving)
        foundry = foundry_rendering(backend, name, conversation[:-1])
        if foundry is not None:
            found.append(foundry)
    return found


def foundry_template(folder: Path) -> tuple[Path, dict[str, str]] | None:
    for candidate in (folder / "inference_model.json", folder.parent / "foundry" / "inference_model.json"):
        try:
            template = json.loads(candidate.read_text(encoding="utf-8"))["PromptTemplate"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(template, dict):
            return candidate, template
    return None


def foundry_rendering(backend: Any, name: str, history: list[Message]) -> Rendering | None:
    """Foundry's PromptTemplate: one piece per earlier message, ``prompt`` for the last user turn."""
    found = foundry_template(Path(backend.folder))
    if found is None:
        return None
    path, template = found
    out = Rendering(f"foundry {name}", str(path))
    try:
        pieces = [template[m["role"]].replace("{Content}", m["content"]) for m in history[:-1]]
        pieces.append(template["prompt"].replace("{Content}", history[-1]["content"]))
        out.text = "".join(pieces)
        out.ids = backend.encode(out.text)
    except KeyError as exc:
        out.error = f"PromptTemplate has no {exc} entry"
    return out
