"""One example in full: the prompt, then the reference and the answer side by side with the
difference marked word by word (``engine/textdiff.py: word_diff``), then its scores.

With two runs, the two answers stand side by side instead, each marked against the
reference (shown above them): words the answer lacks in yellow, words it adds in red.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

if TYPE_CHECKING:
    from ...engine.eval.diff import Pair
    from ...engine.eval.results import Prediction
    from ...engine.textdiff import Span

MISSING = "bold black on yellow"
"""In the reference, not in the answer."""
EXTRA = "bold white on red"
"""In the answer, not in the reference."""
LEGEND = Text.assemble(("missing", MISSING), " in the reference, not the answer  ", ("extra", EXTRA),
                       " in the answer, not the reference")


def spans_text(spans: list[Span]) -> Text:
    """The spans with their marks; the whitespace around a marked word stays unmarked."""
    text = Text()
    for span in spans:
        if span.kind == "equal":
            text.append(span.text)
            continue
        core = span.text.strip()
        start = span.text.index(core[0]) if core else len(span.text)
        text.append(span.text[:start])
        text.append(core, style=MISSING if span.kind == "missing" else EXTRA)
        text.append(span.text[start + len(core):])
    return text


def heading(title: str, row: Prediction | None = None) -> Text:
    text = Text(title, style="bold")
    if row is not None:
        text.append(f"  task {'-' if row.task is None else f'{row.task:.2f}'} ",
                    style="green" if row.passed else "red")
        text.append("✓" if row.passed else "✗", style="green" if row.passed else "bold red")
    return text


def scores_text(row: Prediction) -> Text:
    text = Text(style="dim")
    text.append("  ".join(f"{name} {value:.2f}" for name, value in row.scores.items() if value is not None))
    if row.fields:
        text.append("\nfields ")
        for name, ok in row.fields.items():
            text.append(f"{name} {'✓' if ok else '✗'}  ", style="green" if ok else "red")
    if row.seconds is not None:
        text.append(f"\n{row.seconds:.2f} s")
    return text


def answer_text(row: Prediction, spans: list[Span]) -> Text:
    if row.error:
        return Text(f"error: {row.error}", style="bold red")
    return spans_text(spans) if row.prediction else Text("(empty answer)", style="dim italic")


class EvalDetail(VerticalScroll):
    DEFAULT_CSS = """
    EvalDetail { padding: 0 1; }
    EvalDetail #ed-prompt { height: auto; margin-bottom: 1; }
    EvalDetail #ed-sides { height: auto; }
    EvalDetail .ed-side { width: 1fr; height: auto; margin-right: 1; }
    EvalDetail #ed-scores { height: auto; margin-top: 1; }
    EvalDetail #ed-legend { height: auto; margin-top: 1; color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="ed-prompt")
        with Horizontal(id="ed-sides"):
            yield Static("", id="ed-left", classes="ed-side")
            yield Static("", id="ed-right", classes="ed-side")
        yield Static("", id="ed-scores")
        yield Static(LEGEND, id="ed-legend")

    def _put(self, prompt: Text, left: Text, right: Text, scores: Text) -> None:
        for selector, value in (("#ed-prompt", prompt), ("#ed-left", left), ("#ed-right", right), ("#ed-scores", scores)):
            self.query_one(selector, Static).update(value)
        self.query_one("#ed-legend").display = True

    def show_none(self, why: str) -> None:
        self._put(Text(why, style="dim"), Text(), Text(), Text())
        self.query_one("#ed-legend").display = False

    def show_example(self, row: Prediction) -> None:
        from ...engine.textdiff import word_diff

        diff = word_diff(row.reference, row.prediction)
        prompt = Text.assemble((f"#{row.index + 1} prompt\n", "bold"), row.prompt)
        left = Text.assemble(heading("reference"), "\n", spans_text(diff.reference))
        right = Text.assemble(heading("answer", row), "\n", answer_text(row, diff.prediction))
        self._put(prompt, left, right, scores_text(row))

    def show_pair(self, pair: Pair, a: str, b: str) -> None:
        from ...engine.textdiff import word_diff

        prompt = Text.assemble((f"#{pair.a.index + 1} prompt\n", "bold"), pair.a.prompt, ("\n\nreference\n", "bold"),
                               pair.a.reference)
        sides = [Text.assemble(heading(f"{label} {name}", row), "\n",
                               answer_text(row, word_diff(row.reference, row.prediction).merged))
                 for label, name, row in (("A", a, pair.a), ("B", b, pair.b))]
        scores = Text.assemble(("A  ", "bold dim"), scores_text(pair.a), ("\nB  ", "bold dim"), scores_text(pair.b))
        self._put(prompt, sides[0], sides[1], scores)
