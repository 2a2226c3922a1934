"""Generation parameters of the Chat pane, as a row of small inputs.

``params()`` returns a validated ``GenParams`` or raises ``ValueError`` naming the field.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label

from ...engine.chat.types import GenParams

DEFAULTS = GenParams()
"""The defaults are ``GenParams``'s; an input left empty means its default."""


def _shown(value: float | int | None) -> str:
    return "" if value is None else "0" if value == 0 else str(value)


FIELDS: tuple[tuple[str, str, str, str, int], ...] = (
    # id, label, default, input type, width
    ("temperature", "temp", _shown(DEFAULTS.temperature), "number", 5),
    ("top-p", "top-p", _shown(DEFAULTS.top_p), "number", 5),
    ("max-new-tokens", "max", _shown(DEFAULTS.max_new_tokens), "integer", 6),
    ("repetition-penalty", "rep", _shown(DEFAULTS.repetition_penalty), "number", 5),
    ("seed", "seed", _shown(DEFAULTS.seed), "integer", 6),
)


class ChatParams(Horizontal):
    DEFAULT_CSS = """
    ChatParams { height: 1; }
    ChatParams Label { padding: 0 1 0 0; color: $text-muted; }
    ChatParams Input { border: none; height: 1; padding: 0; margin-right: 1; background: $boost; }
    ChatParams #param-system { width: 1fr; min-width: 12; }
    """

    def compose(self) -> ComposeResult:
        for field_id, label, default, kind, width in FIELDS:
            yield Label(label)
            field = Input(default, id=f"param-{field_id}", type=kind, compact=True)  # type: ignore[arg-type]
            field.styles.width = width
            yield field
        yield Label("system")
        yield Input(placeholder="the template's default", id="param-system", compact=True)

    def _value(self, field_id: str) -> str:
        return self.query_one(f"#param-{field_id}", Input).value.strip()

    def params(self) -> GenParams:
        try:
            temperature = float(self._value("temperature") or DEFAULTS.temperature)
            top_p = float(self._value("top-p") or DEFAULTS.top_p)
            max_new = int(self._value("max-new-tokens") or DEFAULTS.max_new_tokens)
            repetition = float(self._value("repetition-penalty") or DEFAULTS.repetition_penalty)
            seed = int(self._value("seed")) if self._value("seed") else None
        except ValueError as exc:
            raise ValueError(f"a generation parameter is not a number: {exc}") from None
        if temperature < 0 or temperature > 2:
            raise ValueError("temperature must be between 0 and 2")
        if not 0 < top_p <= 1:
            raise ValueError("top-p must be in (0, 1]")
        if not 1 <= max_new <= 32768:
            raise ValueError("max new tokens must be between 1 and 32768")
        if not 0.5 <= repetition <= 2:
            raise ValueError("repetition penalty must be between 0.5 and 2")
        return GenParams(temperature=temperature, top_p=top_p, max_new_tokens=max_new,
                         repetition_penalty=repetition, seed=seed, system_prompt=self._value("system"))

    def show(self, params: dict) -> None:
        """Fill the inputs from saved parameters (a reopened conversation)."""
        values = {"temperature": params.get("temperature"), "top-p": params.get("top_p"),
                  "max-new-tokens": params.get("max_new_tokens"), "repetition-penalty": params.get("repetition_penalty"),
                  "seed": params.get("seed"), "system": params.get("system_prompt")}
        for field_id, value in values.items():
            if value is not None:
                self.query_one(f"#param-{field_id}", Input).value = str(value)
