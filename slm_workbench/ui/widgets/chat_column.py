"""One model's column in the Chat pane: its state, the conversation, the figures under each
answer and the chat template in use. It only displays what the pane tells it (attributes
down); it never runs a model. Over an ONNX adapter base it shows an adapter picker; a pick
goes up as ``AdapterPicked`` and the pane's next answer in this column uses it."""

from __future__ import annotations

from rich.text import Text
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message as TextualMessage
from textual.widgets import Select, Static

from ...engine.chat.types import Message, TemplateInfo

ROLE_STYLES = {"user": "bold cyan", "assistant": "bold green", "system": "bold magenta"}
BLOCK_CHARS = 600
"""A streamed answer continues in a new block past this size (at a line break), so each
update re-wraps only the last block, not the whole answer."""


class ChatTurn(Static):
    """One message, or one block of a long answer (``continued``: no role label); an
    answer streams into it with ``append``."""

    def __init__(self, role: str, text: str = "", *, continued: bool = False, **kwargs) -> None:
        super().__init__(markup=False, **kwargs)
        self.role = role
        self.text = text
        self.continued = continued

    def on_mount(self) -> None:
        self._render_text()

    def append(self, text: str) -> None:
        self.text += text
        self._render_text()

    def _render_text(self) -> None:
        body = Text(self.text or ("…" if self.role == "assistant" and not self.continued else ""))
        self.update(body if self.continued else Text(f"{self.role}: ", style=ROLE_STYLES.get(self.role, "bold")) + body)


class ChatColumn(Vertical):
    DEFAULT_CSS = """
    ChatColumn { width: 1fr; height: 1fr; border: round $panel; }
    ChatColumn.-ready { border: round $primary; }
    ChatColumn.-failed { border: round $error; }
    ChatColumn #column-state { height: 1; color: $text-muted; padding: 0 1; }
    ChatColumn #column-log { height: 1fr; padding: 0 1; }
    ChatColumn #column-template { height: 1; color: $text-muted; padding: 0 1; }
    ChatColumn .-stats { color: $text-muted; margin-bottom: 1; }
    ChatColumn #column-adapter { display: none; margin: 0 1; }
    ChatColumn.-adapters #column-adapter { display: block; }
    """
    BASE_ALONE = ""
    """The picker's value for no adapter: the base answers alone."""

    @dataclass
    class AdapterPicked(TextualMessage):
        column: ChatColumn
        adapter: str
        """A run id (or adapter path), or ``BASE_ALONE``."""

    def __init__(self, spec: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.template: TemplateInfo | None = None
        self._reply: ChatTurn | None = None

    def compose(self) -> ComposeResult:
        yield Static("not loaded: Load, or send a message", id="column-state", markup=False)
        yield Select([], prompt="adapter", allow_blank=True, id="column-adapter", compact=True,
                     tooltip="the LoRA adapter that answers over this base (switched without reloading)")
        yield VerticalScroll(id="column-log")
        yield Static("template: (load the model to see it)", id="column-template", markup=False)

    def on_mount(self) -> None:
        self.border_title = self.spec

    @property
    def log_view(self) -> VerticalScroll:
        return self.query_one("#column-log", VerticalScroll)

    def set_state(self, text: str, *, ready: bool = False, failed: bool = False) -> None:
        self.query_one("#column-state", Static).update(text)
        self.set_class(ready, "-ready")
        self.set_class(failed, "-failed")

    def set_template(self, info: TemplateInfo) -> None:
        self.template = info
        self.query_one("#column-template", Static).update(f"template: {info.summary}")

    def show_adapters(self, choices: list[tuple[str, str]], current: str | None) -> None:
        """Offer the adapters of an adapter base (``choices``: (adapter, label)), ``current`` picked."""
        options = [("the base alone (no adapter)", self.BASE_ALONE), *((label, value) for value, label in choices)]
        if current and current not in {value for value, _label in choices}:
            options.append((current, current))
        picker = self.query_one("#column-adapter", Select)
        with self.prevent(Select.Changed):
            picker.set_options(options)
            picker.value = current or self.BASE_ALONE
        self.add_class("-adapters")

    @property
    def adapter(self) -> str | None:
        """The picked adapter (``BASE_ALONE`` for none), or None when this column has no picker."""
        picker = self.query_one("#column-adapter", Select)
        return picker.value if self.has_class("-adapters") and isinstance(picker.value, str) else None

    @on(Select.Changed, "#column-adapter")
    def _adapter_changed(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            self.post_message(self.AdapterPicked(self, event.value))

    def _add(self, widget: Static) -> None:
        log = self.log_view
        follow = log.is_vertical_scroll_end or log.max_scroll_y == 0
        log.mount(widget)
        if follow:
            log.call_after_refresh(log.scroll_end, animate=False)

    def add_message(self, message: Message, stats: str | None = None) -> None:
        self._add(ChatTurn(message["role"], message["content"]))
        if stats:
            self._add(Static(stats, classes="-stats", markup=False))

    def start_reply(self) -> None:
        self._reply = ChatTurn("assistant")
        self._add(self._reply)

    def append_reply(self, text: str) -> None:
        if self._reply is None:
            self.start_reply()
        assert self._reply is not None
        log = self.log_view
        follow = log.is_vertical_scroll_end or log.max_scroll_y == 0
        while (cut := text.find("\n", max(0, BLOCK_CHARS - len(self._reply.text)))) >= 0:
            self._reply.append(text[:cut])  # this block is long enough: the rest starts a new one
            self._reply = ChatTurn("assistant", continued=True)
            log.mount(self._reply)
            text = text[cut + 1:]
        self._reply.append(text)
        if follow:
            log.call_after_refresh(log.scroll_end, animate=False)

    def finish_reply(self, stats: str) -> None:
        if self._reply is None:
            self.start_reply()
        self._reply = None
        self._add(Static(stats, classes="-stats", markup=False))

    @property
    def reply_text(self) -> str:
        """The text of the last answer in this column (its blocks joined)."""
        blocks: list[str] = []
        for turn in self.query(ChatTurn):
            if turn.role == "assistant":
                blocks = blocks + [turn.text] if turn.continued else [turn.text]
        return "\n".join(blocks)

    def clear(self) -> None:
        self._reply = None
        self.log_view.remove_children()
