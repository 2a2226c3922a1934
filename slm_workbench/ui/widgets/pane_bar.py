"""The one-line pane bar: ``1 Data  2 Train  3 Runs …`` with the active pane highlighted.

A ``Static`` with click links rather than ``TabbedContent``: the workbench's first frame is
measured against a bare Textual app (bench/startup.py), and the tabbed widget's extra
widgets and deferred activation cost a visible share of that budget. The number keys and the
command palette switch panes as well.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class PaneBar(Static):
    DEFAULT_CSS = """
    PaneBar { height: 1; background: $panel; padding: 0 1; link-style: none; link-style-hover: bold underline; }
    """

    active: reactive[str] = reactive("")

    def __init__(self, panes: tuple[tuple[str, str], ...], active: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.panes = panes
        self.set_reactive(PaneBar.active, active)

    def render(self) -> Text:
        """Every pane's number and title, spaced as widely as the bar's width allows."""
        for pad, gap in ((" ", " "), (" ", ""), ("", " ")):
            if sum(len(f"{pad}{n} {title}{pad}{gap}") for n, (_, title) in enumerate(self.panes, 1)) <= self.size.width:
                break
        text = Text()
        for number, (pane_id, title) in enumerate(self.panes, start=1):
            label = f"{pad}{number} {title}{pad}"
            style = "bold reverse" if pane_id == self.active else ""
            text.append(label, style=style)
            text.apply_meta({"@click": f"app.show_pane('{pane_id}')"}, len(text) - len(label), len(text))
            text.append(gap)
        return text
