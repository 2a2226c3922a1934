"""The aggregates of one eval run, or what changed between two: a table, not a control.

One run: each metric's mean with its 95% interval and the examples it applies to, then the
accuracy of each JSON field. While the run is still scoring (no report yet), the means so far
from its rows, without intervals (they come with the report). Two runs: the counts of fixed,
broken and unchanged examples, and each metric's paired difference B - A with its interval,
green where B is better beyond noise, red where worse, dim where the interval holds zero.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

if TYPE_CHECKING:
    from ...engine.eval.diff import EvalDiff
    from ...engine.eval.results import EvalReport, Prediction

METRIC_ORDER = ("task", "exact_match", "token_f1", "rouge_l", "json_valid", "json_fields", "perplexity")


def ordered(names) -> list[str]:  # noqa: ANN001 - an iterable of metric names
    names = list(names)
    return [m for m in METRIC_ORDER if m in names] + sorted(m for m in names if m not in METRIC_ORDER)


def number(value: float | None, metric: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if metric == "perplexity" or abs(value) >= 10 else f"{value:.3f}"


def interval(low: float | None, high: float | None, metric: str = "") -> str:
    if low is None or high is None:
        return "…"
    return f"{number(low, metric)} – {number(high, metric)}"


def _table(*columns: str) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold", expand=False)
    for k, name in enumerate(columns):
        table.add_column(name, justify="left" if k == 0 else "right", no_wrap=True)
    return table


def running_means(rows: list[Prediction]) -> dict[str, tuple[float, int]]:
    """Each metric's mean over the rows it applies to so far (perplexity: the corpus one)."""
    import math

    sums: dict[str, list[float]] = {"task": [r.task for r in rows if r.task is not None]}
    for row in rows:
        for name, value in row.scores.items():
            if value is not None and name != "perplexity":
                sums.setdefault(name, []).append(value)
    out = {name: (sum(values) / len(values), len(values)) for name, values in sums.items() if values}
    scored = [(r.nll, r.ref_tokens) for r in rows if r.nll is not None and r.ref_tokens]
    if scored:
        out["perplexity"] = (math.exp(sum(n for n, _ in scored) / sum(t for _, t in scored)), len(scored))
    return out


class EvalSummary(Static):
    DEFAULT_CSS = "EvalSummary { height: auto; }"

    def show_run(self, report: EvalReport | None, rows: list[Prediction]) -> None:
        if report is None and not rows:
            self.update(Text("no example scored yet", style="dim"))
            return
        table = _table("metric", "mean", "95% interval", "n")
        if report is not None:
            for name in ordered(report.metrics):
                agg = report.metrics[name]
                table.add_row(name, number(agg.mean, name), interval(agg.low, agg.high, name), str(agg.n))
            passed, total = report.passed, report.examples
        else:
            means = running_means(rows)
            for name in ordered(means):
                mean, n = means[name]
                table.add_row(name, number(mean, name), "…", str(n))
            passed, total = sum(r.passed for r in rows), len(rows)
        head = Text.assemble((f"{passed}/{total} passed", "bold"), f" ({passed / total:.0%})" if total else "")
        if report is None:
            head.append("  so far (intervals come with the report)", style="dim")
        parts: list = [head, table]
        if report is not None and report.fields:
            fields = _table("field", "accuracy", "n")
            for name, (accuracy, n) in report.fields.items():
                fields.add_row(name, number(accuracy), str(n))
            parts.append(fields)
        self.update(Group(*parts))

    def show_diff(self, diff: EvalDiff, a: str, b: str) -> None:
        counts = diff.counts()
        head = Text.assemble(("A ", "bold"), a, ("  B ", "bold"), b, "\n",
                             (f"fixed {counts['fixed']}", "bold green"), "  ", (f"broken {counts['broken']}", "bold red"),
                             f"  both fail {counts['both_fail']}  both pass {counts['both_pass']}")
        if diff.only_a or diff.only_b:
            head.append(f"  unpaired: {len(diff.only_a)} only in A, {len(diff.only_b)} only in B", style="yellow")
        if not diff.pairs:
            head.append("\nno example in common: the two runs scored different data", style="bold yellow")
            self.update(head)
            return
        table = _table("metric", "A", "B", "B − A", "95% interval", "n")
        for name in ordered(diff.metrics):
            m = diff.metrics[name]
            style = "dim" if m.better is None else "bold green" if m.better else "bold red"
            table.add_row(name, number(m.a, name), number(m.b, name), Text(f"{m.difference:+.3f}", style=style),
                          Text(interval(m.low, m.high, name), style=style), str(m.n))
        self.update(Group(head, table))
