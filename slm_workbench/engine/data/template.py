"""Templates: the model's own chat template, or a text template with ``{column}`` placeholders.

Assistant-only loss needs the character span of every assistant turn in the rendered
text. Few templates mark the answer with ``{% generation %}`` (SmolLM2's does not), so the span of assistant turn *i* is found by rendering prefixes of the
conversation: ``render(messages[:i], add_generation_prompt=True)`` ends where the answer
starts, and ``render(messages[:i + 1])`` ends where it stops. Re-rendering prefixes costs a
render per turn, so for templates where it gives the same spans on a set of probes (SmolLM2's
and most ChatML-like ones) the answer is instead found right after the assistant header. The answer's own end-of-turn
token (``<|im_end|>``, ``<end_of_turn>``: what the template writes right after an answer, else the
tokenizer's EOS) is inside the span, so the model learns to stop; the whitespace the
template writes after it is not. A tokenizer without a chat template (a base model) cannot
render conversations: the refusal names the option that gives it one. Templates whose prefixes are not prefixes of the whole
(some rewrite history) fall back to finding the answer text itself.

A text template (the form Olive's ``--text_template`` uses) renders a row's columns; its
*last* placeholder is the answer: training on the completion trains from there to the end.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from ..models.chat_template import OPTION, end_of_turn_text, template_text
from .issues import DataFormatError, Issue, Loc

Span = tuple[int, int]


@dataclass(frozen=True)
class TextTemplate:
    source: str
    parts: tuple[tuple[str, str | None], ...]
    """(literal text, placeholder that follows it or None)."""

    @classmethod
    def parse(cls, source: str) -> TextTemplate:
        parts: list[tuple[str, str | None]] = []
        try:
            for literal, name, spec, conversion in string.Formatter().parse(source):
                if name is not None and (not name or spec or conversion):
                    raise DataFormatError(f"template placeholder {{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                                          "must be a plain {column}", hint="write literal braces as {{ and }}")
                parts.append((literal, name))
        except ValueError as exc:
            raise DataFormatError(f"template is not valid: {exc}", hint="placeholders are {column}; literal braces are {{ and }}") from None
        if not any(name for _, name in parts):
            raise DataFormatError("template has no {column} placeholder", hint='e.g. "### Question: {prompt}\\n### Answer: {completion}"')
        return cls(source, tuple(parts))

    @property
    def fields(self) -> list[str]:
        return list(dict.fromkeys(name for _, name in self.parts if name))

    @property
    def response_field(self) -> str:
        return [name for _, name in self.parts if name][-1]

    def check_columns(self, names: list[str], file: str) -> None:
        missing = [f for f in self.fields if f not in names]
        if missing and names:
            raise DataFormatError(f"{file}: the template uses {{{missing[0]}}}, which is not a column; "
                                  f"the columns are: {', '.join(names[:12])}")

    def render(self, value: Any, loc: Loc, file: str) -> tuple[dict[str, str] | None, list[Issue]]:
        """``{"prompt": text before the answer, "completion": the answer and what follows}``."""
        if not isinstance(value, dict):
            return None, [loc.issue(file, "not_object", f"is {type(value).__name__}, not a JSON object")]
        issues: list[Issue] = []
        last = len(self.parts) - 1 - [name is not None for _, name in self.parts][::-1].index(True)
        out: list[str] = []
        split_at = 0
        for i, (literal, name) in enumerate(self.parts):
            out.append(literal)
            if name is None:
                continue
            if i == last:
                split_at = sum(map(len, out))
            if name not in value:
                issues.append(loc.issue(file, "missing_field", "missing (the template uses it)", field=name))
                continue
            item = value[name]
            if item is None or isinstance(item, (list, dict)):
                what = "null" if item is None else f"a {type(item).__name__}"
                issues.append(loc.issue(file, "wrong_type", f"is {what}, expected text", field=name))
                continue
            item = str(item)
            if i == last and not item.strip():
                issues.append(loc.issue(file, "empty_content", "is empty (it is the answer the model learns)", field=name,
                                        hint="remove the row or fill in the answer"))
            out.append(item)
        if issues:
            return None, issues
        text = "".join(out)
        return {"prompt": text[:split_at], "completion": text[split_at:]}, []


class ChatRenderer:
    """Render conversations with a tokenizer's chat template, and find the assistant spans."""

    def __init__(self, tokenizer: Any) -> None:
        template = template_text(tokenizer)
        if not template:
            raise DataFormatError(
                f"the tokenizer {getattr(tokenizer, 'name_or_path', '')!s} has no chat template (a base model), "
                "so conversations cannot be rendered",
                hint=f"choose one: `{OPTION}` in the recipe (--set chat_template=chatml), --chat-template chatml, "
                "or a text template, e.g. --template '### Question: {prompt}\\n### Answer: {completion}'")
        self.tokenizer = tokenizer
        self.template = template
        special = {k: v for k in ("bos_token", "eos_token") if isinstance(v := getattr(tokenizer, k, None), str)}
        self.eos = end_of_turn_text(template, **special) or getattr(tokenizer, "eos_token", None) or ""
        self._fast = self._compile()
        self._header: str | None = None
        self._header = self._calibrate()

    def _compile(self) -> Any:
        """Render with the compiled jinja template directly (4x cheaper than apply_chat_template),
        after proving on a probe conversation that it renders the same text."""
        try:
            from transformers.utils.chat_template_utils import _compile_jinja_template

            compiled = _compile_jinja_template(self.template)
        except Exception:  # noqa: BLE001 - any change in transformers' internals: use the public path
            return None
        kwargs = dict(getattr(self.tokenizer, "special_tokens_map", {}) or {})
        probe = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]

        def fast(messages: list[dict[str, str]], gen: bool) -> str:
            return compiled.render(messages=messages, tools=None, documents=None, add_generation_prompt=gen, **kwargs)

        try:
            for msgs, gen in ((probe, False), (probe[1:2], True)):
                if fast(msgs, gen) != self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen):
                    return None
        except Exception:  # noqa: BLE001
            return None
        return fast

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
        try:
            if self._fast is not None:
                return self._fast(messages, add_generation_prompt)
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
        except Exception as exc:  # noqa: BLE001 - a template's raise_exception() is a message for the user
            raise DataFormatError(f"the chat template refused this conversation: {exc}") from None

    def render_with_spans(self, messages: list[dict[str, str]]) -> tuple[str, list[Span]]:
        """The rendered conversation and the character span of each assistant turn."""
        full = self.render(messages)
        if self._header is not None:
            spans = self._search_spans(full, messages)
            if spans is not None:
                return full, spans
        return full, self._prefix_spans(full, messages)

    def _prefix_spans(self, full: str, messages: list[dict[str, str]]) -> list[Span]:
        spans: list[Span] = []
        cursor = 0
        last = len(messages) - 1
        for i, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            before = self.render(messages[:i], add_generation_prompt=True)
            upto = full if i == last else self.render(messages[: i + 1])
            if full.startswith(before) and full.startswith(upto) and len(upto) > len(before) >= cursor:
                start, end = len(before), len(upto.rstrip())
            else:
                start = full.find(message["content"], cursor)
                if start < 0:
                    raise DataFormatError("the chat template changes the assistant's text, so the trained tokens "
                                          "cannot be located", hint="use a text template (--template) or train on all tokens")
                end = start + len(message["content"])
                if self.eos and full.startswith(self.eos, end):
                    end += len(self.eos)
            spans.append((start, max(start, end)))
            cursor = end
        return spans

    def _search_spans(self, full: str, messages: list[dict[str, str]]) -> list[Span] | None:
        """The same spans without re-rendering prefixes: each answer is found right after the
        assistant header (what ``add_generation_prompt`` writes). Only used for templates on
        which both methods agree (``_calibrate``); None sends a row to the prefix method."""
        header, spans, cursor = self._header or "", [], 0
        for i, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            content = message["content"]
            pos = full.find(header + content, cursor)
            if pos < 0:
                return None
            start = pos + len(header)
            end = start + len(content)
            if self.eos and full.startswith(self.eos, end):
                end += len(self.eos)
            if i == len(messages) - 1 and full[end:].strip():
                return None
            spans.append((start, end))
            cursor = end
        return spans

    def _calibrate(self) -> str | None:
        """The assistant header, if header search matches prefix rendering on every probe."""
        user = [{"role": "user", "content": "ping"}]
        try:
            header = self.render(user, True)[len(self.render(user, False)):]
            self._header = header or None
            for probe in CALIBRATION_PROBES:
                full = self.render(probe)
                if self._header is None or self._search_spans(full, probe) != self._prefix_spans(full, probe):
                    return None
        except DataFormatError:
            return None
        finally:
            self._header = None
        return header


def _conv(*turns: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in turns]


CALIBRATION_PROBES = [
    _conv(("user", "Hi"), ("assistant", "Hello!")),
    _conv(("system", "Be brief."), ("user", "2+2?"), ("assistant", "4")),
    _conv(("user", "a"), ("assistant", " spaced answer \n"), ("user", "b"), ("assistant", "\nsecond\n\nanswer")),
    _conv(("system", "s"), ("user", "x"), ("assistant", "y"), ("user", "z"), ("assistant", "w"), ("user", "trailing")),
]
