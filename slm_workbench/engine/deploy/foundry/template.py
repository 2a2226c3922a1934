"""``inference_model.json``'s ``PromptTemplate``, rendered from the model's own chat template.

Foundry Local's older CLI builds a prompt from four pieces, each holding ``{Content}``: one
per earlier ``system`` / ``user`` / ``assistant`` message, and ``prompt`` for the last user
turn (which ends with the generation prompt). The pieces are cut out of the Jinja template's
own renderings of growing conversations with sentinel contents, so they are exactly what the
template writes; the template round-trip check (``chat/template_render.foundry_rendering``)
then confirms they give the training ids. SDK 2.x applies the tokenizer's chat template
itself and treats ``PromptTemplate`` as legacy: the smoke test exercises that path.

A template that writes the system prompt inside the first user turn (Gemma) cannot be cut into
a ``system`` piece: its pieces are cut from conversations without one (``system_folded``), and
``system`` writes a system message as a user turn of its own, as Ollama's Gemma template does.
What such a template writes before everything (Gemma's ``<bos>``) is in ``prompt``, so the
PromptTemplate is exact for one user turn without a system prompt, the case it is checked on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import WorkbenchError

CONTENT = "{Content}"
_SYSTEM, _USER, _ASSISTANT = "\x00SYSTEM\x00", "\x00USER\x00", "\x00ASSISTANT\x00"


def load_chat_tokenizer(folder: Path, what: str) -> Any:
    """The HF tokenizer of ``folder``; one line when it has no chat template."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if not getattr(tokenizer, "chat_template", None):
        raise WorkbenchError(
            f"{what} has no chat template (none in {folder}/tokenizer_config.json or chat_template.jinja)",
            hint="Foundry Local needs one to build prompts: train from an instruct model, or add a chat_template",
        )
    return tokenizer


def _cut(longer: str, prefix: str, what: str) -> str:
    if not longer.startswith(prefix):
        raise WorkbenchError(f"the chat template does not render {what} as a suffix of the conversation before it; "
                             "Foundry Local's PromptTemplate cannot express it")
    return longer[len(prefix):]


def _render(tokenizer: Any, messages: list[dict[str, str]], *, generation: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)


def system_folded(tokenizer: Any) -> bool:
    """Whether the template writes a leading system message inside the first user turn (Gemma), so the
    PromptTemplate holds for conversations without a system message only."""
    user = _render(tokenizer, [{"role": "user", "content": _USER}])
    both = _render(tokenizer, [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": _USER}])
    head = user[: user.index(_USER)]
    return both.startswith(head + _SYSTEM) and both.index(_SYSTEM) < both.index(_USER) and head != ""


def prompt_template(tokenizer: Any) -> dict[str, str]:
    """``{"system", "user", "assistant", "prompt"}``, each with ``{Content}`` once."""

    def render(messages: list[dict[str, str]], *, generation: bool = False) -> str:
        return _render(tokenizer, messages, generation=generation)

    if system_folded(tokenizer):
        return _folded_template(render)
    system = [{"role": "system", "content": _SYSTEM}]
    user = [*system, {"role": "user", "content": _USER}]
    assistant = [*user, {"role": "assistant", "content": _ASSISTANT}]
    s, u, a = render(system), render(user), render(assistant)
    g = render(user, generation=True)
    pieces = {
        "system": s,
        "user": _cut(u, s, "a user message"),
        "assistant": _cut(a, u, "an assistant message"),
        "prompt": _cut(g, s, "the generation prompt"),
    }
    out = {}
    for role, text in pieces.items():
        sentinel = {"system": _SYSTEM, "assistant": _ASSISTANT}.get(role, _USER)
        if text.count(sentinel) != 1 or any(x in text for x in (_SYSTEM, _USER, _ASSISTANT) if x != sentinel):
            raise WorkbenchError(f"the chat template's {role} piece does not hold its message exactly once; "
                                 "Foundry Local's PromptTemplate cannot express it")
        out[role] = text.replace(sentinel, CONTENT)
    return out


def _folded_template(render: Any) -> dict[str, str]:
    """The pieces of a template that folds the system prompt into the first user turn, cut from
    conversations without one; ``system`` is written as a user turn of its own."""
    user = [{"role": "user", "content": _USER}]
    assistant = [*user, {"role": "assistant", "content": _ASSISTANT}]
    again = [*assistant, {"role": "user", "content": _USER}]
    u, a, g = render(user), render(assistant), render(user, generation=True)
    second = _cut(render(again), a, "a second user message")
    head = u[: u.index(_USER)]
    start = head[len(head) - len(second[: second.index(_USER)]):] if _USER in second else head
    pieces = {
        "user": second,
        "assistant": _cut(a, u, "an assistant message"),
        "prompt": g,  # with what the template writes first (Gemma's <bos>): exact for one user turn
    }
    first_user = u[len(head) - len(start):]
    pieces["system"] = first_user.replace(_USER, _SYSTEM)
    out = {}
    for role, text in pieces.items():
        sentinel = {"system": _SYSTEM, "assistant": _ASSISTANT}.get(role, _USER)
        if text.count(sentinel) != 1:
            raise WorkbenchError(f"the chat template's {role} piece does not hold its message exactly once; "
                                 "Foundry Local's PromptTemplate cannot express it")
        out[role] = text.replace(sentinel, CONTENT)
    return {k: out[k] for k in ("system", "user", "assistant", "prompt")}


def inference_model(name: str, template: dict[str, str]) -> dict[str, Any]:
    """The ``inference_model.json`` Foundry Local reads beside ``genai_config.json``."""
    return {"Name": name, "PromptTemplate": template}
