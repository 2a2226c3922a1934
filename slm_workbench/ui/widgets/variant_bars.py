"""Bar charts of one measure across variants (decode speed, size, perplexity), in text.

Bars scale to the largest value among the variants that are not broken; a broken variant's
bar is red and marked, and a value beyond the scale (a perplexity that exploded) is drawn
full width with an arrow instead of squashing every other bar.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from ..variant_rows import VariantRow

BAR = "█"
PARTIAL = " ▏▎▍▌▋▊▉"


def bar_text(fraction: float, width: int) -> str:
    """A bar of ``fraction`` x ``width`` cells in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, rest = divmod(eighths, 8)
    return BAR * full + (PARTIAL[rest] if rest else "")


class VariantBars(Widget):
    DEFAULT_CSS = "VariantBars { height: auto; }"

    def __init__(self, key: str, title: str, unit_format: str = ".1f", **kwargs) -> None:
        super().__init__(**kwargs)
        self.key = key
        self.title = title
        self.unit_format = unit_format
        self.rows: list[VariantRow] = []

    def show_rows(self, rows: list[VariantRow]) -> None:
        self.rows = rows
        self.refresh(layout=True)

    def get_content_height(self, container, viewport, width: int) -> int:  # noqa: ANN001 - Textual's signature
        return 1 + max(1, len(self.rows))

    def render(self) -> Text:
        width = self.content_size.width or 30
        text = Text(self.title + "\n", style="bold")
        values = [(r, r.values.get(self.key)) for r in self.rows]
        scale = max((v for r, v in values if isinstance(v, (int, float)) and not r.broken), default=0.0)
        label_w = min(max((len(r.name) for r in self.rows), default=4), 12)
        for row, value in values:
            style = "red" if row.broken else "green" if row.recommended else "grey50" if row.reference else "cyan"
            text.append(f"{row.name[:label_w]:<{label_w}} ", style="bold " + style if row.recommended else "")
            if not isinstance(value, (int, float)):
                text.append("…\n" if not row.broken else "broken\n", style="dim" if not row.broken else "red")
                continue
            shown = format(value, self.unit_format)
            room = max(1, width - label_w - len(shown) - 3)
            off_scale = scale > 0 and value > scale
            text.append(bar_text(value / scale if scale else 0.0, room) + ("→" if off_scale else ""), style=style)
            text.append(f" {shown}" + (" broken" if row.broken else "") + "\n", style="red" if row.broken else "")
        text.rstrip()
        return text
