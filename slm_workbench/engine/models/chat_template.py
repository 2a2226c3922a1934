"""Chat templates a model does not bring itself: chosen by name or file, checked, written into its tokenizer.

A base model (Gemma 3 270M, SmolLM2-135M) has no chat template; its user picks one where it
matters: ``slmw models prepare MODEL --chat-template chatml|gemma|PATH.jinja``, or
``chat_template:`` in a training recipe. The choice is written into the tokenizer saved with
the prepared folder or the trained model (``tokenizer.chat_template``, which
``save_pretrained`` writes as ``chat_template.jinja``), so everything that already reads a
tokenizer's template (the data engine, export, Chat, serve, the Foundry ``PromptTemplate``, the
Ollama ``Modelfile``) carries it without knowing where it came from.

A template's *end of turn* is what it writes right after an answer (``<|im_end|>``,
``<end_of_turn>``). The trainer's loss covers it, so the model learns to stop there, and
generation must stop on it: ``stop_ids`` adds it to the EOS ids (``generation_config``), which
the ONNX Runtime GenAI builder copies into ``genai_config.json``. It must be one token of the
vocabulary, else a model can learn it but nothing can stop on it: such a choice is refused.

The named templates are package data (``slm_workbench/chat_templates/*.jinja``): ChatML as
SmolLM2 and Qwen write it, and Gemma 3's own template (system prompt folded into the first
user turn). Rendering goes through transformers' own Jinja environment, as
``apply_chat_template`` renders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError

NAMED = ("chatml", "gemma")
"""Templates shipped with the workbench, by name."""
OPTION = "chat_template: chatml|gemma|PATH.jinja"
"""How a recipe names the choice (the one-line refusals name it)."""
PROVENANCE_KEY = "chat_template"
"""Key of ``slmw_model.json`` (and of a run's lineage) that records the template: ``own``, ``none``,
``chatml``, ``gemma`` or ``file:PATH``."""
_ANSWER = "ANSWER-7f3a"
_PROBE = [{"role": "system", "content": "SYSTEM-7f3a"}, {"role": "user", "content": "QUESTION-7f3a"},
          {"role": "assistant", "content": _ANSWER}, {"role": "user", "content": "AGAIN-7f3a"}]


class ChatTemplateError(WorkbenchError):
    """A template that cannot be used: missing, not Jinja, or not rendering a conversation."""


@dataclass(frozen=True)
class ChosenTemplate:
    name: str
    """``chatml``, ``gemma``, or ``file:PATH`` (what is recorded)."""
    text: str
    where: str
    """What a message names: ``the chatml template`` or the file's path."""

    @property
    def tag(self) -> str:
        """How views name it: ``chatml``, ``gemma``, ``file NAME.jinja``."""
        return f"file {Path(self.name[5:]).name}" if self.name.startswith("file:") else self.name


def load_template(choice: str) -> ChosenTemplate:
    """The template a recipe or flag names: a shipped name or a ``.jinja`` file (read now)."""
    choice = choice.strip()
    if choice in NAMED:
        text = resources.files("slm_workbench.chat_templates").joinpath(f"{choice}.jinja").read_text(encoding="utf-8")
        return ChosenTemplate(choice, text, f"the {choice} template")
    path = Path(choice).expanduser()
    if not path.is_file():
        raise ChatTemplateError(f"chat template {choice!r} is neither a shipped template ({', '.join(NAMED)}) "
                                f"nor a file{' (no such file)' if not path.exists() else ''}",
                                hint=f"{OPTION}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ChatTemplateError(f"chat template {path}: cannot read it ({exc})") from None
    return ChosenTemplate(f"file:{path.resolve()}", text, str(path))


def render(text: str, messages: list[dict[str, str]], *, generation: bool = False, **tokens: str) -> str:
    """``text`` rendered as ``apply_chat_template`` renders it (transformers' sandboxed Jinja)."""
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered, _ = render_jinja_template([messages], chat_template=text, add_generation_prompt=generation, **tokens)
    return rendered[0]


def check_renders(chosen: ChosenTemplate, **tokens: str) -> None:
    """Raise a one-line ``ChatTemplateError`` naming the file unless ``chosen`` renders a conversation:
    valid Jinja, every message's content in the text, and a generation prompt where the answer goes."""
    import jinja2

    where = chosen.where
    probe = _PROBE
    for attempt in (0, 1):  # a template without a system role is tried again without one
        try:
            whole = render(chosen.text, probe, **tokens)
            prompt = render(chosen.text, probe[:-2], generation=True, **tokens)
            asked = render(chosen.text, probe[:-2], **tokens)
            break
        except jinja2.TemplateSyntaxError as exc:
            raise ChatTemplateError(f"{where}: not a valid Jinja template (line {exc.lineno}: {exc.message})") from None
        except Exception as exc:  # noqa: BLE001 - raise_exception() or any error inside the template
            if attempt == 0:
                probe = _PROBE[1:]
                continue
            raise ChatTemplateError(f"{where}: fails on a user/assistant/user conversation: "
                                    f"{type(exc).__name__}: {exc}") from None
    lost = [m["role"] for m in probe if m["content"] not in whole]
    if lost:
        raise ChatTemplateError(f"{where}: renders a conversation without the {' and '.join(dict.fromkeys(lost))} "
                                "message's content", hint="a chat template writes message['content'] of every message")
    if prompt == asked or not prompt.startswith(asked):
        raise ChatTemplateError(f"{where}: leaves no place for the answer (add_generation_prompt adds nothing after "
                                "the last user turn)", hint="write the assistant's header when add_generation_prompt is set")


def end_of_turn_text(template: str, **tokens: str) -> str | None:
    """What the template writes right after an answer, up to the first whitespace (``<|im_end|>``)."""
    try:
        whole = render(template, _PROBE[1:3], **tokens)
    except Exception:  # noqa: BLE001 - a template that refuses the probe has no end of turn we can find
        return None
    after = whole.split(_ANSWER, 1)[1] if _ANSWER in whole else ""
    words = after.split()
    return words[0] if words else None


def template_text(tokenizer: Any) -> str | None:
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):
        template = template.get("default")
    return template or None


def _special(tokenizer: Any) -> dict[str, str]:
    return {k: v for k in ("bos_token", "eos_token") if isinstance(v := getattr(tokenizer, k, None), str)}


def end_of_turn_id(tokenizer: Any, template: str | None = None) -> int | None:
    """The token id that ends an answer under ``template`` (default: the tokenizer's own), when it is one token."""
    template = template or template_text(tokenizer)
    if not template:
        return None
    marker = end_of_turn_text(template, **_special(tokenizer))
    if not marker:
        return None
    ids = tokenizer(marker, add_special_tokens=False)["input_ids"]
    return int(ids[0]) if len(ids) == 1 else None


def stop_ids(tokenizer: Any, template: str | None = None) -> list[int]:
    """EOS ids generation stops on: the tokenizer's EOS and the template's end of turn."""
    ids = [int(tokenizer.eos_token_id)] if getattr(tokenizer, "eos_token_id", None) is not None else []
    turn = end_of_turn_id(tokenizer, template)
    return ids + ([turn] if turn is not None and turn not in ids else [])


def add_stop_ids(generation_config: Any, tokenizer: Any) -> None:
    """Make ``generation_config`` stop on the tokenizer's template's end of turn too (kept as a list)."""
    current = generation_config.eos_token_id
    have = [current] if isinstance(current, int) else list(current or [])
    more = [i for i in stop_ids(tokenizer) if i not in have]
    if more:
        generation_config.eos_token_id = have + more if have else (more if len(more) > 1 else more[0])


def apply_template(tokenizer: Any, chosen: ChosenTemplate) -> None:
    """Check ``chosen`` renders, that its end of turn is one token of ``tokenizer``; make it the tokenizer's."""
    tokens = _special(tokenizer)
    check_renders(chosen, **tokens)
    marker = end_of_turn_text(chosen.text, **tokens)
    if marker is None:
        raise ChatTemplateError(f"{chosen.where}: writes nothing after an answer, so a model trained with it "
                                "never learns where its answer ends", hint="end each turn with an end-of-turn token")
    ids = tokenizer(marker, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        fits = [n for n in NAMED if n != chosen.name and _fits(tokenizer, n)]
        raise ChatTemplateError(
            f"{chosen.where} ends a turn with {marker!r}, which this tokenizer ({getattr(tokenizer, 'name_or_path', '')}) "
            f"splits into {len(ids)} tokens: generation could not stop on it",
            hint=f"use {' or '.join(fits)}, whose end of turn is one token here" if fits
            else "a template whose end-of-turn marker is one token of the vocabulary")
    tokenizer.chat_template = chosen.text


def check_fits(folder: Path, chosen: ChosenTemplate) -> None:
    """Everything ``apply_template`` checks, against the tokenizer in ``folder`` (a launch check)."""
    from transformers import AutoTokenizer

    apply_template(AutoTokenizer.from_pretrained(folder), chosen)


def _fits(tokenizer: Any, name: str) -> bool:
    marker = end_of_turn_text(load_template(name).text, **_special(tokenizer))
    return bool(marker) and len(tokenizer(marker, add_special_tokens=False)["input_ids"]) == 1


def no_template(what: str, use: str = "chat with it") -> ChatTemplateError:
    """The one line for a model without a chat template asked to chat, naming the options that give it one."""
    return ChatTemplateError(f"{what} has no chat template (a base model): to {use}, give it one",
                             hint="slmw models prepare MODEL --chat-template chatml|gemma|PATH.jinja, "
                             f"or train it with `{OPTION}` in the recipe (--set chat_template=chatml)")


def require_template(tokenizer: Any, what: str, use: str = "chat with it") -> str:
    """The tokenizer's template, or one line naming the option that gives it one."""
    template = template_text(tokenizer)
    if template:
        return template
    raise no_template(what, use)


def has_template_files(folder: Path) -> bool:
    """Whether a tokenizer saved in ``folder`` carries a chat template (read from its files, no transformers)."""
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and bool(config.get("chat_template"))


def describe(recorded: str) -> str:
    """``none (base model)``, ``own``, ``chatml``, ``gemma``, ``file NAME.jinja``."""
    if recorded == "none":
        return "none (base model)"
    return f"file {Path(recorded[5:]).name}" if recorded.startswith("file:") else recorded
