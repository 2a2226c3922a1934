"""The Chat pane's overlays: the word diff of side-by-side answers, the saved conversations,
and the full text of a chat template."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from ...engine.textdiff import word_diff
from ...engine.chat.history import Conversation
from ...engine.chat.types import TemplateInfo

DIFF_STYLES = {"equal": "", "missing": "bold red strike", "extra": "bold green"}
MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 90%; height: 80%; border: thick $primary; background: $surface; padding: 0 1; }}
{name} .modal-title {{ text-style: bold; height: 1; }}
{name} .modal-hint {{ color: $text-muted; height: 1; }}
{name} VerticalScroll, {name} OptionList {{ height: 1fr; }}
"""


class ChatDiffScreen(ModalScreen[None]):
    """Each answer against the first: removed words red, added words green."""

    BINDINGS = [("escape", "dismiss", "Close"), ("q", "dismiss", "Close")]
    DEFAULT_CSS = MODAL_CSS.format(name="ChatDiffScreen")

    def __init__(self, answers: list[tuple[str, str]]) -> None:
        super().__init__()
        self.answers = answers

    def compose(self) -> ComposeResult:
        (first_label, first), others = self.answers[0], self.answers[1:]
        with Vertical():
            yield Label(f"Answers compared with {first_label}", classes="modal-title")
            yield Label("red: only in the first answer · green: only in this one · escape closes", classes="modal-hint")
            with VerticalScroll():
                for label, text in others:
                    diff = word_diff(first, text, exact=True)
                    body = Text(f"{label}: {diff.ratio:.0%} of words in common\n", style="bold")
                    for span in diff.merged:
                        body.append(span.text, style=DIFF_STYLES[span.kind])
                    yield Static(body, classes="diff", markup=False)


class ChatHistoryScreen(ModalScreen[str | None]):
    """Pick a saved conversation to reopen (returns its id)."""

    BINDINGS = [("escape", "dismiss(None)", "Close")]
    DEFAULT_CSS = MODAL_CSS.format(name="ChatHistoryScreen")

    def __init__(self, conversations: list[Conversation]) -> None:
        super().__init__()
        self.conversations = conversations

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Saved conversations ({len(self.conversations)})", classes="modal-title")
            yield Label("enter reopens · escape closes", classes="modal-hint")
            options = [Option(Text.assemble((c.title or "(untitled)", "bold"), f"  {c.turns} turn(s) · "
                                            f"{', '.join(c.models)} · {c.id}"), id=c.id) for c in self.conversations]
            yield OptionList(*options, id="history-list", markup=False)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class ChatTemplateScreen(ModalScreen[None]):
    BINDINGS = [("escape", "dismiss", "Close"), ("q", "dismiss", "Close")]
    DEFAULT_CSS = MODAL_CSS.format(name="ChatTemplateScreen")

    def __init__(self, templates: list[tuple[str, TemplateInfo | None]]) -> None:
        super().__init__()
        self.templates = templates

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Chat templates in use", classes="modal-title")
            yield Label("escape closes", classes="modal-hint")
            with VerticalScroll():
                for label, info in self.templates:
                    head = Text(f"{label}\n", style="bold")
                    if info is None:
                        yield Static(head + Text("not loaded", style="dim"), markup=False)
                        continue
                    head.append(f"{info.source}\n", style="dim")
                    yield Static(head + Text(info.text or "(applied by the server; not visible from here)") + "\n",
                                 markup=False)
