"""A line chart of one training metric over steps, with an optional overlay run.

Drawn with plotext (imported on first draw, ~50 ms) into a rich Text. Points are kept in
full (a re-attached view shows the whole curve) and downsampled to the widget's width at
draw time; redraws happen on a timer, only when something changed, and only the lines of the
chart that differ from what is on screen are repainted (bench/terminal_output.py).
"""

from __future__ import annotations

from array import array

from rich.text import Text
from textual.geometry import Region
from textual.widget import Widget

from ..downsample import min_max_downsample
from ..visibility import is_shown

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
        self._drawn: tuple[tuple[int, int], Text] | None = None
        """(size, chart) as last drawn: repaints compare against it."""

    def on_mount(self) -> None:
        self.set_interval(1.0, self._redraw_if_dirty)

    def set_data(self, title: str, series: list[Series], overlay: list[Series] | None = None, overlay_label: str = "") -> None:
        self.title, self.series = title, series
        self.overlay, self.overlay_label = overlay or [], overlay_label
        self.changed()

    def changed(self) -> None:
        self._dirty = True

    def _redraw_if_dirty(self) -> None:
        if not self._dirty or not is_shown(self):  # a hidden chart is drawn when shown (render)
            return
        self._dirty = False
        old = self._drawn
        new = self._draw()
        if old is None or old[0] != new[0]:
            self.refresh()
            return
        before, after = old[1].split(allow_blank=True), new[1].split(allow_blank=True)
        changed = [y for y in range(max(len(before), len(after)))
                   if y >= len(before) or y >= len(after) or not _same(before[y], after[y])]
        if changed:
            self.refresh(*(Region(0, y, new[0][0], 1) for y in changed))

    def _draw(self) -> tuple[tuple[int, int], Text]:
        size = (self.size.width, self.size.height)
        width, height = size
        if width < 20 or height < 4:
            chart = Text("")
        elif not any(len(s) for s in self.series + self.overlay):
            chart = Text(f"{self.title}: no points yet", style="dim")
        else:
            chart = render_chart(self.title, self.series, self.overlay, self.overlay_label, width, height)
        self._drawn = (size, chart)
        return self._drawn

    def render(self) -> Text:
        drawn = self._drawn
        if drawn is None or drawn[0] != (self.size.width, self.size.height) or self._dirty:
            self._dirty = False
            drawn = self._draw()
        return drawn[1]


def _same(a: Text, b: Text) -> bool:
    return a.plain == b.plain and a.spans == b.spans


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
