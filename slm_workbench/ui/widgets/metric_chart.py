"""A line chart of one training metric over steps, with an optional overlay run.

Drawn with plotext (imported on first draw, ~50 ms) into a rich Text. Points are kept in
full (a re-attached view shows the whole curve) and downsampled to the widget's width at
draw time; redraws happen on a timer, only when something changed.
"""

from __future__ import annotations

from array import array

from rich.text import Text
from textual.widget import Widget

from ..downsample import min_max_downsample

SERIES_COLORS = ("cyan", "orange", "green", "magenta")
OVERLAY_COLOR = "gray"


class Series:
    """One named curve: steps and values, appended as metrics arrive."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.xs = array("d")
        self.ys = array("d")

    def add(self, x: float, y: float) -> None:
        self.xs.append(x)
        self.ys.append(y)

    def __len__(self) -> int:
        return len(self.xs)


class MetricChart(Widget):
    DEFAULT_CSS = """
    MetricChart { height: 1fr; min-height: 6; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.series: list[Series] = []
        self.overlay: list[Series] = []
        self.overlay_label = ""
        self.title = ""
        self._dirty = True

    def on_mount(self) -> None:
        self.set_interval(1.0, self._redraw_if_dirty)

    def set_data(self, title: str, series: list[Series], overlay: list[Series] | None = None, overlay_label: str = "") -> None:
        self.title, self.series = title, series
        self.overlay, self.overlay_label = overlay or [], overlay_label
        self.changed()

    def changed(self) -> None:
        self._dirty = True

    def _redraw_if_dirty(self) -> None:
        if self._dirty:
            self._dirty = False
            self.refresh()

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        if width < 20 or height < 4:
            return Text("")
        if not any(len(s) for s in self.series + self.overlay):
            return Text(f"{self.title}: no points yet", style="dim")
        return render_chart(self.title, self.series, self.overlay, self.overlay_label, width, height)


def render_chart(title: str, series: list[Series], overlay: list[Series], overlay_label: str,
                 width: int, height: int) -> Text:
    import plotext as plt

    plt.clear_figure()
    plt.limitsize(False, False)  # plotext otherwise caps the figure at the real terminal's size
    plt.plotsize(width, height)
    plt.theme("clear")
    if title:
        plt.title(title)
    for curve in overlay:
        if len(curve):
            xs, ys = min_max_downsample(curve.xs, curve.ys, width)
            plt.plot(xs, ys, marker="braille", color=OVERLAY_COLOR, label=f"{curve.name} ({overlay_label})")
    for color, curve in zip(SERIES_COLORS, series):
        if len(curve):
            xs, ys = min_max_downsample(curve.xs, curve.ys, width)
            plt.plot(xs, ys, marker="braille", color=color, label=curve.name)
    return Text.from_ansi(plt.build().rstrip("\n"))
