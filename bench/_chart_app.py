"""The baseline for bench/terminal_output.py: a bare Textual app with one plotext chart that
gets a new point and is redrawn once a second (what any live loss chart has to write)."""

import math
import random

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class Chart(Static):
    def on_mount(self) -> None:
        self.xs: list[float] = []
        self.ys: list[float] = []
        self.set_interval(1.0, self.add_point)

    def add_point(self) -> None:
        import plotext as plt

        step = len(self.xs) + 1
        self.xs.append(step)
        self.ys.append(2.5 * math.exp(-step / 60) + 0.3 + random.random() * 0.2)
        plt.clear_figure()
        plt.limitsize(False, False)
        plt.plotsize(self.size.width, self.size.height)
        plt.theme("clear")
        plt.plot(self.xs, self.ys, marker="braille", label="loss")
        self.update(Text.from_ansi(plt.build().rstrip("\n")))


class ChartApp(App):
    CSS = "Chart { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Chart("chart app ready")
        yield Footer()


if __name__ == "__main__":
    ChartApp().run()
