"""Whether a widget is on screen now (a pane built in a hidden ContentSwitcher slot is not), and
whether the terminal is narrow."""

from __future__ import annotations

from textual.widget import Widget


def is_shown(widget: Widget) -> bool:
    return all(getattr(node, "display", True) for node in widget.ancestors_with_self)


NARROW_BELOW = 110
"""Terminals narrower than this get the panes' ``-narrow`` layouts (styles/app.tcss)."""


def mark_narrow(pane: Widget) -> None:
    """Set ``-narrow`` on ``pane`` (from its Resize handler). Per pane rather than the app's
    HORIZONTAL_BREAKPOINTS: a class on the screen restyles every widget, first frame included."""
    pane.set_class(pane.app.size.width < NARROW_BELOW, "-narrow")
