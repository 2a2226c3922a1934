"""Whether a widget is on screen now: a pane built in a hidden ContentSwitcher slot is not."""

from __future__ import annotations

from textual.widget import Widget


def is_shown(widget: Widget) -> bool:
    return all(getattr(node, "display", True) for node in widget.ancestors_with_self)
