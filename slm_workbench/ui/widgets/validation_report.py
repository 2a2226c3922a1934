"""The validation report: a verdict line, then every issue with its file, line, field and fix.

Choosing an issue (enter or a click) posts ``ValidationView.IssueChosen``; the pane moves
the preview and the rendered sample to that row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from .loss_mask import issue_text

if TYPE_CHECKING:
    from ...engine.data import Issue, ValidationReport


def verdict(report: ValidationReport, note: str) -> Text:
    text = Text()
    if report.ok:
        text.append("✓ valid", style="bold green")
    else:
        text.append("✗ not valid" if report.rows else "✗ no rows", style="bold red")
    text.append(f": {report.rows} rows, {report.valid} usable, {report.invalid} invalid")
    if report.too_long:
        text.append(f", {report.too_long} too long")
    text.append(f"; {report.errors} error{'s' if report.errors != 1 else ''}, "
                f"{report.warnings} warning{'s' if report.warnings != 1 else ''}")
    text.append(f"\nformat {report.format} · {note}", style="dim")
    if report.issues:
        text.append("\nenter on an issue shows its row", style="dim")
    return text


class ValidationView(Vertical):
    DEFAULT_CSS = """
    ValidationView { height: 1fr; padding: 0 1; }
    ValidationView #report-verdict { height: auto; margin-bottom: 1; }
    ValidationView OptionList { height: 1fr; border: none; padding: 0; }
    """

    @dataclass
    class IssueChosen(Message):
        issue: Issue

    def compose(self) -> ComposeResult:
        yield Static(Text("no report yet: open a dataset", style="dim"), id="report-verdict")
        yield OptionList(id="report-issues", compact=True)

    def on_mount(self) -> None:
        self._issues: list[Issue] = []

    def show_status(self, text: str | Text) -> None:
        self.query_one("#report-verdict", Static).update(text)

    def clear(self, text: str | Text) -> None:
        self.show_status(text)
        self._issues = []
        self.query_one("#report-issues", OptionList).clear_options()

    def show_report(self, report: ValidationReport, note: str) -> None:
        self.show_status(verdict(report, note))
        self._issues = list(report.issues)
        issues = self.query_one("#report-issues", OptionList)
        issues.clear_options()
        issues.add_options(Option(issue_text(issue, report.repeats.get(n, 1)), id=str(n))
                           for n, issue in enumerate(self._issues))
        if report.truncated:
            issues.add_option(Option(Text(f"… and {report.truncated} more errors not listed "
                                          "(`slmw data validate --json` lists up to 1000)", style="dim"), disabled=True))
        if self._issues:
            issues.highlighted = 0

    @on(OptionList.OptionSelected, "#report-issues")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_id is not None:
            self.post_message(self.IssueChosen(self._issues[int(event.option_id)]))
