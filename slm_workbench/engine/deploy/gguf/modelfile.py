"""An Ollama ``Modelfile`` whose ``TEMPLATE`` is the model's own Jinja chat template, in Go form.

Ollama renders prompts with Go templates over ``.Messages`` (each with ``.Role`` and
``.Content``; system messages stay in the list, and a Modelfile ``SYSTEM`` is prepended as a
system message when a request has none). A Jinja chat template cannot be translated in
general, but the templates of most small chat models are *turn templates*: each message is
``prefix(role) + content + suffix(role)``, and the generation prompt is the assistant's
prefix. ``turn_pieces`` recovers those pieces by rendering conversations with sentinel
contents through the real template (ChatML for SmolLM2 and Qwen, Llama 3, Zephyr, Gemma ...),
then checks them: the pieces must reproduce the template's output exactly on every probe
conversation, else there is no ``TEMPLATE`` line and the caller says why (Ollama then falls
back to the chat template embedded in the GGUF).

A template that injects a default system prompt when none is given (SmolLM2 does) becomes
a ``SYSTEM`` line; a BOS token the template writes itself is left to the GGUF's
``add_bos_token``, as llama.cpp tokenizes the prompt. A template that writes the system prompt
inside the first user turn (Gemma: ``<start_of_turn>user\nSYSTEM\n\nUSER<end_of_turn>``) is a turn
template whose system message folds into the next user turn (``TurnPieces.system_in_user``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Render = Callable[[list[dict[str, str]], bool], str]
"""(messages, add_generation_prompt) -> the prompt text the chat template renders."""

ROLES = ("system", "user", "assistant")
_S, _U, _A, _V = "\x01SYSTEM\x01", "\x01USER\x01", "\x01ASSISTANT\x01", "\x01AGAIN\x01"


class TemplateNotConvertible(ValueError):
    """The chat template is not a turn template the pieces reproduce; the message says where."""


@dataclass(frozen=True)
class TurnPieces:
    prefix: dict[str, str]
    suffix: dict[str, str]
    bos: str = ""
    """Text the template writes before everything (a BOS token); left to the GGUF."""
    default_system: str | None = None
    """The system prompt the template adds when a conversation has none."""
    system_in_user: str | None = None
    """Set when a leading system message is written inside the first user turn, before its content and
    followed by this separator (Gemma: ``"\n\n"``); the system pieces are then unused."""

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        """What the Go template renders (with the default system prompt as Ollama adds it)."""
        if self.default_system is not None and (not messages or messages[0]["role"] != "system"):
            messages = [{"role": "system", "content": self.default_system}, *messages]
        out = [self.bos]
        for i, m in enumerate(messages):
            if self.system_in_user is not None:
                if m["role"] == "system":
                    continue
                folded = i == 1 and m["role"] == "user" and messages[0]["role"] == "system"
                lead = messages[0]["content"] + self.system_in_user if folded else ""
                out += [self.prefix[m["role"]], lead, m["content"], self.suffix[m["role"]]]
                continue
            out += [self.prefix[m["role"]], m["content"], self.suffix[m["role"]]]
        if add_generation_prompt:
            out.append(self.prefix["assistant"])
        return "".join(out)


def _cut(text: str, *marks: str) -> list[str]:
    """``text`` split at each mark in turn: the pieces between them (len(marks) + 1)."""
    pieces = []
    for mark in marks:
        head, sep, text = text.partition(mark)
        if not sep:
            raise TemplateNotConvertible(f"the rendered prompt lost a message's content ({mark.strip(chr(1)).lower()})")
        pieces.append(head)
    return [*pieces, text]


def _strip_prefix(text: str, prefix: str, what: str) -> str:
    if not text.startswith(prefix):
        raise TemplateNotConvertible(f"{what}: expected {prefix!r} at {text!r}")
    return text[len(prefix):]


def _strip_suffix(text: str, suffix: str, what: str) -> str:
    if not text.endswith(suffix):
        raise TemplateNotConvertible(f"{what}: expected {suffix!r} at the end of {text!r}")
    return text[: len(text) - len(suffix)]


PROBES: tuple[tuple[list[dict[str, str]], bool], ...] = (
    ([{"role": "user", "content": "Hi"}], True),
    ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], True),
    ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."},
      {"role": "user", "content": "Name a colour."}], True),
    ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
      {"role": "assistant", "content": "4"}, {"role": "user", "content": "3+3?"},
      {"role": "assistant", "content": "6"}], False),
)


def turn_pieces(render: Render, bos_token: str = "") -> TurnPieces:
    """Recover each role's prefix and suffix from the template; raise ``TemplateNotConvertible``."""
    try:
        try:
            return _turn_pieces(render, bos_token)
        except TemplateNotConvertible as first:
            folded = _folded_pieces(render, bos_token)
            if folded is None:
                raise first from None
            return folded
    except TemplateNotConvertible:
        raise
    except Exception as exc:  # noqa: BLE001 - a template may refuse a probe (raise_exception) or fail to render
        raise TemplateNotConvertible(f"the template refused a probe conversation: {type(exc).__name__}: {exc}") from None


def _folded_pieces(render: Render, bos_token: str) -> TurnPieces | None:
    """The pieces of a template that writes a leading system message inside the first user turn, checked
    on every probe; None when the template is not that either."""
    user = [{"role": "user", "content": _U}]
    turn = [*user, {"role": "assistant", "content": _A}]
    head, tail = _cut(render(user, False), _U)                          # bos+pre_u | suf_u
    with_system = render([{"role": "system", "content": _S}, *user], False)
    if not (with_system.startswith(head + _S) and with_system.endswith(_U + tail)):
        return None
    separator = with_system[len(head + _S): len(with_system) - len(_U + tail)]
    if any(mark in separator for mark in (_S, _U)):
        return None
    generation = _strip_prefix(render(user, True), head + _U + tail, "generation prompt")
    after_answer = _cut(render(turn, False), _A)[1]
    again = _cut(render([*turn, {"role": "user", "content": _V}], False), _A, _V)[1]
    pre_user = _strip_prefix(again, after_answer, "a second user turn")
    bos = bos_token if bos_token and head.startswith(bos_token) else ""
    if head != bos + pre_user:
        return None
    pieces = TurnPieces(prefix={"system": "", "user": pre_user, "assistant": generation},
                        suffix={"system": "", "user": tail, "assistant": after_answer}, bos=bos,
                        system_in_user=separator)
    for messages, generation_prompt in PROBES:
        if render(messages, generation_prompt) != pieces.render(messages, generation_prompt):
            return None
    return pieces


def _turn_pieces(render: Render, bos_token: str) -> TurnPieces:
    sys_user = [{"role": "system", "content": _S}, {"role": "user", "content": _U}]
    turn = [*sys_user, {"role": "assistant", "content": _A}]
    head, between, tail = _cut(render(sys_user, False), _S, _U)           # bos+pre_s | suf_s+pre_u | suf_u
    generation = _strip_prefix(render(sys_user, True), head + _S + between + _U + tail, "generation prompt")
    after_answer = _cut(render(turn, False), _A)[1]                       # suf_a
    again = _cut(render([*turn, {"role": "user", "content": _V}], False), _A, _V)[1]  # suf_a + pre_u
    pre_user = _strip_prefix(again, after_answer, "a second user turn")
    bos = bos_token if bos_token and head.startswith(bos_token) else ""
    pieces = TurnPieces(
        prefix={"system": head[len(bos):], "user": pre_user, "assistant": generation},
        suffix={"system": _strip_suffix(between, pre_user, "the system turn"), "user": tail, "assistant": after_answer},
        bos=bos,
    )
    alone = render([{"role": "user", "content": _U}], False)
    if alone != bos + pre_user + _U + tail:                                # a default system prompt?
        inner = _strip_prefix(alone, bos + pieces.prefix["system"], "a conversation without a system prompt")
        inner = _strip_suffix(inner, pieces.suffix["system"] + pre_user + _U + tail, "the default system prompt")
        pieces = TurnPieces(pieces.prefix, pieces.suffix, bos, default_system=inner)
    for messages, generation_prompt in PROBES:
        want, got = render(messages, generation_prompt), pieces.render(messages, generation_prompt)
        if want != got:
            at = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
            raise TemplateNotConvertible(f"not a turn template: at character {at} the template writes "
                                         f"{want[at:at + 24]!r}, the pieces {got[at:at + 24]!r}")
    return pieces


def go_template(pieces: TurnPieces) -> str:
    """Ollama's ``TEMPLATE``: one turn per message, the assistant's prefix after the last non-assistant
    turn; a trailing assistant message is left open (Ollama continues it). No ``{{-`` trims: the
    pieces' own newlines are part of the format."""

    def lit(text: str) -> str:
        return text.replace("{{", '{{ "{{" }}')

    p, s = pieces.prefix, pieces.suffix
    if pieces.system_in_user is not None:  # a leading system message goes inside the user turn after it
        system = ""
        lead = ('{{ if eq $i 1 }}{{ range $k, $first := slice $.Messages 0 1 }}{{ if eq .Role "system" }}'
                f'{{{{ .Content }}}}{lit(pieces.system_in_user)}{{{{ end }}}}{{{{ end }}}}{{{{ end }}}}')
    else:
        system = f'{lit(p["system"])}{{{{ .Content }}}}{lit(s["system"])}'
        lead = ""
    return (
        '{{ range $i, $_ := .Messages }}{{ $last := eq (len (slice $.Messages $i)) 1 }}'
        f'{{{{ if eq .Role "system" }}}}{system}'
        f'{{{{ else if eq .Role "user" }}}}{lit(p["user"])}{lead}{{{{ .Content }}}}{lit(s["user"])}'
        f'{{{{ else if eq .Role "assistant" }}}}{lit(p["assistant"])}{{{{ .Content }}}}'
        f'{{{{ if not $last }}}}{lit(s["assistant"])}{{{{ end }}}}{{{{ end }}}}'
        f'{{{{ if and $last (ne .Role "assistant") }}}}{lit(p["assistant"])}{{{{ end }}}}{{{{ end }}}}'
    )


def stop_words(pieces: TurnPieces | None, eos_token: str | None) -> list[str]:
    """The end-of-turn marker and the EOS token (once each)."""
    words = [pieces.suffix["assistant"].strip()] if pieces is not None else []
    words.append((eos_token or "").strip())
    return list(dict.fromkeys(w for w in words if w))


def _quoted(text: str, what: str) -> str:
    if '"""' in text:
        raise TemplateNotConvertible(f"the {what} contains three double quotes, which a Modelfile cannot hold")
    return f'"""{text}"""'


def modelfile_text(gguf_name: str, pieces: TurnPieces | None, eos_token: str | None, note: str = "") -> str:
    """The Modelfile: ``FROM ./<gguf>``, the ``TEMPLATE`` (when the chat template converts), the
    default ``SYSTEM`` prompt and the stop words."""
    lines = ["# Ollama Modelfile written by slmw deploy gguf. Use: ollama create NAME -f Modelfile",
             f"FROM ./{gguf_name}"]
    if note:
        lines.append(f"# {note}")
    if pieces is not None:
        lines.append(f"TEMPLATE {_quoted(go_template(pieces), 'chat template')}")
        if pieces.default_system is not None:
            lines.append(f"SYSTEM {_quoted(pieces.default_system, 'default system prompt')}")
    lines += [f'PARAMETER stop "{w}"' for w in stop_words(pieces, eos_token) if '"' not in w]
    return "\n".join(lines) + "\n"


def jinja_render(chat_template: str, bos_token: str = "", eos_token: str = "") -> Render:
    """A ``Render`` through transformers' own Jinja environment (as ``apply_chat_template`` renders)."""
    from transformers.utils.chat_template_utils import render_jinja_template

    def render(messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        rendered, _ = render_jinja_template([messages], chat_template=chat_template,
                                            add_generation_prompt=add_generation_prompt,
                                            bos_token=bos_token, eos_token=eos_token)
        return rendered[0]

    return render
