"""A pane whose lifecycle step is not built into the TUI yet.

It says what the pane will do and which CLI command does the step today (or that none
does yet), so there is never a control that does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static


@dataclass(frozen=True)
class PlannedStep:
    title: str
    will_do: str
    today: tuple[str, ...]
    """CLI commands that do (part of) this step today; empty when none does yet."""


class PlannedPane(VerticalScroll):
    DEFAULT_CSS = """
    PlannedPane { padding: 1 2; }
    PlannedPane .planned-title { text-style: bold; margin-bottom: 1; }
    PlannedPane .planned-today { margin-top: 1; color: $text-muted; }
    """

    def __init__(self, step: PlannedStep, **kwargs) -> None:
        super().__init__(**kwargs)
        self.step = step

    def compose(self) -> ComposeResult:
        yield Static(f"{self.step.title} — not in the TUI yet", classes="planned-title")
        yield Static(self.step.will_do)
        if self.step.today:
            today = Text("From the shell today:\n", style="bold")
            for command in self.step.today:
                today.append(f"  $ {command}\n", style="cyan")
        else:
            today = Text("No command does this step yet.", style="italic")
        yield Static(today, classes="planned-today")


PLANNED_STEPS: dict[str, PlannedStep] = {
    "distill": PlannedStep(
        "Distill",
        "A teacher (local model or OpenAI-compatible endpoint) answers your prompts into a dataset, resumably; "
        "a student is then trained on it, with logit distillation when the tokenizers match.",
        (),
    ),
}
