"""Redraw time of the Runs pane's metric chart with 100k points, against plotting them raw.

The chart keeps every point (a re-attached view shows the whole curve) and downsamples to
the widget's width at draw time (min/max per bucket). The baseline hands all points to
plotext as they are. Goal: 100k points redraw in <= 20 ms.

    .venv/bin/python bench/chart_redraw.py [--points 100000] [--runs 7]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time

from slm_workbench.ui.widgets.metric_chart import Series, render_chart


def make_series(points: int) -> tuple[Series, Series]:
    rng = random.Random(0)
    loss, evals = Series("loss"), Series("eval_loss")
    for step in range(1, points + 1):
        loss.add(step, 2.5 * math.exp(-step / (points / 5)) + 0.3 + rng.random() * 0.2)
        if step % 500 == 0:
            evals.add(step, 2.4 * math.exp(-step / (points / 5)) + 0.35)
    return loss, evals


def raw_chart(series: list[Series], width: int, height: int) -> None:
    import plotext as plt

    plt.clear_figure()
    plt.limitsize(False, False)
    plt.plotsize(width, height)
    plt.theme("clear")
    for curve in series:
        plt.plot(list(curve.xs), list(curve.ys), marker="braille", label=curve.name)
    plt.build()


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    loss, evals = make_series(args.points)
    width, height = 118, 20
    render_chart("", [loss, evals], [], "", width, height)  # import plotext, warm caches
    ours = median_ms(lambda: render_chart("", [loss, evals], [], "", width, height), args.runs)
    overlay = median_ms(lambda: render_chart("", [loss, evals], [loss], "other run", width, height), args.runs)
    raw = median_ms(lambda: raw_chart([loss, evals], width, height), max(3, args.runs // 2))
    print(f"chart redraw, {args.points:,} points + {len(evals)} eval points, {width}x{height} cells, median:")
    print(f"  downsampled (what the pane does) : {ours:8.1f} ms   (goal <= 20 ms)")
    print(f"  with a 100k-point overlay run    : {overlay:8.1f} ms")
    print(f"  all points handed to plotext     : {raw:8.1f} ms   (baseline)")
    print(f"  speed-up vs baseline             : {raw / ours:8.1f}x")


if __name__ == "__main__":
    main()
