"""One row rendered exactly as the trainer sees it, with the loss mask.

Trained text (the tokens whose labels are kept) is bold green;
masked text (labels -100: the prompt, the template's markup) is dim. A legend and the
token counts sit on top. A row that cannot be used shows its issues and its raw value.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

if TYPE_CHECKING:
    from ...engine.data import Issue, RenderedSample

CLI_FLAGS = re.compile(r"--(role|map|format|max-length)\b")
PANE_FIELDS = {"role": "roles", "map": "columns", "format": "format", "max-length": "max tokens"}
TRAINED = "bold green"
MASKED = "dim"


def issue_text(issue: Issue, times: int = 1) -> Text:
    """``✗ file:line: field: message  (×N)`` and the hint under it."""
    text = Text()
    error = issue.severity == "error"
    text.append("✗ " if error else "! ", style="bold red" if error else "yellow")
    text.append(issue.where, style="bold")
    text.append(":")
    if issue.field:
        text.append(f" {issue.field}:", style="cyan")
    text.append(f" {issue.message}")
    if times > 1:
        text.append(f"  (×{times})", style="dim")
    if issue.hint:
        hint = CLI_FLAGS.sub(lambda m: PANE_FIELDS[m.group(1)], issue.hint)  # the engine's hints name CLI flags
        text.append(f"\n    hint: {hint}", style="dim italic")
    return text


class LossMaskView(VerticalScroll):
    DEFAULT_CSS = """
    LossMaskView { height: 1fr; padding: 0 1; }
    LossMaskView #mask-head { height: auto; margin-bottom: 1; }
    LossMaskView #mask-body { height: auto; }
    """

    def compose(self) -> ComposeResult:
        yield Static(Text("open a dataset to see a row as the model sees it", style="dim"), id="mask-head")
        yield Static("", id="mask-body")

    body: Text = Text()
    """What the body shows now (the styled sample, for tests and copying)."""

    def show_message(self, text: str | Text, body: str | Text = "") -> None:
        self.body = body if isinstance(body, Text) else Text(body)
        self.query_one("#mask-head", Static).update(text)
        self.query_one("#mask-body", Static).update(body)

    def show_sample(self, where: str, sample: RenderedSample, train_on: str) -> None:
        head = Text()
        head.append(f"{where} as the model sees it: ", style="bold")
        head.append(f"{sample.n_tokens} tokens, {sample.n_trained} trained")
        covered = "assistant turns" if train_on == "completion" else "every token"
        head.append(f" (loss on {covered})\n", style="dim")
        if sample.template:
            head.append("rendered with ", style="dim")
            head.append(sample.template, style="bold")
            head.append("\n")
        head.append("trained", style=TRAINED)
        head.append(" text is in the loss · ", style="dim")
        head.append("masked", style=MASKED)
        head.append(" text is context only", style="dim")
        body = Text()
        for piece, trained in sample.segments():
            body.append(piece, style=TRAINED if trained else MASKED)
        self.show_message(head, body)
        self.scroll_home(animate=False)

    def show_problem(self, where: str, issues: list[Issue], raw: str | None) -> None:
        head = Text(f"{where} cannot be used for training:", style="bold red")
        body = Text()
        for issue in issues:
            body.append_text(issue_text(issue))
            body.append("\n")
        if raw:
            body.append("\nthe row as read:\n", style="bold")
            body.append(raw, style="dim")
        self.show_message(head, body)
        self.scroll_home(animate=False)
