"""What a distillation shows while it runs and after: the phases strip, the teacher's latest
answers with their verdicts, and the card (teacher vs student, and the three headline figures).

Each is drawn from a ``DistillView`` (engine/distill/reader.py) as it is: the widgets read no file.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from ...engine.distill.reader import DistillView, Sample

PHASE_MARKS = {"pending": ("○", "dim"), "running": ("●", "bold cyan"), "done": ("✓", "green"),
               "skipped": ("–", "dim"), "failed": ("✗", "bold red"), "cancelled": ("■", "magenta")}


def phases_text(view: DistillView | None) -> Text:
    """``teacher ✓ → generate ● 37/120 ·cd34 → student ○ …``: each phase, its state, its child run."""
    if view is None:
        return Text("")
    text = Text(no_wrap=True, overflow="ellipsis")
    for i, phase in enumerate(view.state.phases):
        if i:
            text.append(" → ", style="dim")
        mark, style = PHASE_MARKS.get(phase.state, ("?", ""))
        text.append(phase.name, style="bold" if phase.state == "running" else "")
        text.append(f" {mark}", style=style)
        if phase.name == "generate" and phase.state in ("running", "done") and view.answered:
            progress = view.generate_progress
            total = f"/{progress.total:g}" if progress is not None and progress.total else ""
            text.append(f" {view.answered}{total}", style="dim")
        if phase.run:
            child_state = view.children.get(phase.run, "")
            text.append(f" ·{phase.run[-4:]}", style="dim" if child_state != "failed" else "red")
    return text


def current_detail(view: DistillView | None) -> str:
    """The detail the job wrote for the phase running now (or the one that failed)."""
    if view is None:
        return ""
    failed = next((p for p in view.state.phases if p.state == "failed"), None)
    phase = failed or view.state.current
    return f"{phase.name}: {phase.detail}" if phase is not None and phase.detail else ""


def counts_text(view: DistillView) -> Text:
    text = Text(f"{view.answered} answered", style="bold", no_wrap=True, overflow="ellipsis")
    progress = view.generate_progress
    if progress is not None and progress.total:
        text.append(f" of {progress.total:g}")
    text.append("  ")
    text.append(f"{view.kept} kept", style="green")
    if view.dropped:
        dropped = sum(view.dropped.values())
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(view.dropped.items(), key=lambda kv: -kv[1]))
        text.append(f"  {dropped} dropped ({reasons})", style="yellow")
    return text


def _one_line(text: str) -> str:
    return " ".join(text.split())


class DistillSamples(Widget):
    """The teacher's newest answers first: prompt | answer | verdict (as many as fit)."""

    DEFAULT_CSS = "DistillSamples { height: 1fr; min-height: 4; }"
    can_focus = True
    """It holds the keys of the pane (compare, chat, stop) while nothing else here has them."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.view: DistillView | None = None

    def show(self, view: DistillView | None) -> None:
        self.view = view
        self.refresh()

    @property
    def samples(self) -> list[Sample]:
        return self.view.samples if self.view is not None else []

    def render(self) -> Any:
        view = self.view
        if view is None or not view.samples:
            waiting = "the teacher's answers appear here as they are written"
            if view is not None and view.state.phase("generate").state == "skipped":
                waiting = "no generation in this run"
            return Text(waiting, style="dim")
        table = Table(box=None, expand=True, show_edge=False, pad_edge=False, header_style="bold dim")
        table.add_column("prompt", ratio=2, no_wrap=True, overflow="ellipsis")
        table.add_column("answer", ratio=3, no_wrap=True, overflow="ellipsis")
        table.add_column("verdict", width=14, no_wrap=True, overflow="ellipsis")
        for sample in view.samples[:max(1, self.size.height - 2)]:
            table.add_row(_one_line(sample.prompt), _one_line(sample.answer),
                          Text(sample.label, style="green" if sample.kept else "yellow"))
        return Group(counts_text(view), table)


def _num(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def _ratio(student: Any, teacher: Any, fmt: str = ".2f", suffix: str = "×") -> str:
    if isinstance(student, (int, float)) and isinstance(teacher, (int, float)) and teacher:
        return format(student / teacher, fmt) + suffix
    return ""


def _task(side: dict[str, Any]) -> str:
    score = side.get("task_score")
    if not isinstance(score, (int, float)):
        return "-"
    low, high = side.get("task_low"), side.get("task_high")
    interval = f" [{low:.2f}–{high:.2f}]" if isinstance(low, (int, float)) and isinstance(high, (int, float)) else ""
    return f"{score:.2f}{interval}"


CARD_ROWS: tuple[tuple[str, str, str, bool], ...] = (
    # label, key, format, whether student / teacher is worth a ratio column
    ("decode tok/s ↑", "decode_tok_s", ".1f", True),
    ("TTFT ms ↓", "ttft_ms", ".0f", True),
    ("peak RSS MB ↓", "peak_rss_mb", ".0f", True),
    ("model RSS MB ↓", "model_rss_mb", ".0f", True),
    ("size MB ↓", "size_mb", ".1f", True),
    ("params M", "params_m", ".1f", True),
    ("answer ppl ↓", "answer_perplexity", ".2f", False),
)


def card_table(card: dict[str, Any]) -> Table:
    """Teacher vs student, row by row, with student ÷ teacher where it reads as a ratio."""
    teacher, student = dict(card.get("teacher") or {}), dict(card.get("student") or {})
    for side in (teacher, student):
        if isinstance(side.get("ttft_s"), (int, float)):
            side["ttft_ms"] = side["ttft_s"] * 1000
        if isinstance(side.get("params"), (int, float)):
            side["params_m"] = side["params"] / 1e6
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("", style="dim", no_wrap=True, width=14)
    table.add_column("teacher", justify="right", no_wrap=True, overflow="ellipsis", min_width=9, max_width=16)
    table.add_column("student", justify="right", no_wrap=True, overflow="ellipsis", min_width=9, max_width=16)
    table.add_column("s÷t", justify="right", style="dim", no_wrap=True, width=6)
    table.add_row("task score ↑", _task(teacher), _task(student),  # the headline: first
                  _ratio(student.get("task_score"), teacher.get("task_score"), ".0%", ""), style="bold")
    for label, key, fmt, ratio in CARD_ROWS:
        if teacher.get(key) is None and student.get(key) is None:
            continue
        table.add_row(label, _num(teacher.get(key), fmt), _num(student.get(key), fmt),
                      _ratio(student.get(key), teacher.get(key)) if ratio else
                      "≠ tok" if key == "answer_perplexity" and card.get("answer_perplexity_comparable") is False
                      else "")
    return table


def tokenizer_line(card: dict[str, Any]) -> Text | None:
    """Which tokenizer each answer perplexity is counted in, and whether the two compare."""
    teacher, student = card.get("teacher") or {}, card.get("student") or {}
    if teacher.get("answer_perplexity") is None and student.get("answer_perplexity") is None:
        return None

    def name(side: dict[str, Any]) -> str:
        return str(side.get("tokenizer") or "?").removesuffix(" tokenizer")

    comparable = card.get("answer_perplexity_comparable")
    if comparable:
        return Text(f"ppl comparable: one tokenizer ({name(teacher)})", style="dim")
    text = Text(f"answer ppl per own tokenizer: teacher {name(teacher)}, student {name(student)}", style="dim")
    if comparable is False:
        text.append(" — not comparable, judge by the task score", style="yellow")
    return text


def card_heading(card: dict[str, Any]) -> Text:
    """Who is compared: each side's label (what the job called it) and what answered."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for i, side in enumerate(("teacher", "student")):
        figures = card.get(side) or {}
        if i:
            text.append("  vs  ", style="dim")
        text.append(f"{side} ", style="bold")
        text.append(str(figures.get("label") or figures.get("spec") or "?"))
    return text


def headline(card: dict[str, Any]) -> Text:
    """The three figures, the task score first: how much accuracy kept, how much faster, how much less memory."""
    text = Text()
    kept = card.get("accuracy_retained")
    if isinstance(kept, (int, float)):
        text.append(f"{kept:.0%}", style="bold cyan")
        text.append(" of the teacher's accuracy\n")
    else:
        text.append("accuracy retained: not measured\n", style="dim")
    speedup = card.get("speedup")
    if isinstance(speedup, (int, float)):
        reduction = card.get("inference_time_reduction")
        reduction = reduction if isinstance(reduction, (int, float)) else 1 - 1 / speedup if speedup else None
        text.append(f"{speedup:.2f}×", style="bold cyan")
        text.append(" faster" + (f" (−{reduction:.0%} time/token)" if reduction is not None else "") + "\n")
    else:
        text.append("speed: not measured\n", style="dim")
    ratio = card.get("memory_ratio")
    if isinstance(ratio, (int, float)):
        reduction = card.get("memory_reduction")
        reduction = reduction if isinstance(reduction, (int, float)) else 1 - ratio
        text.append(f"{ratio:.2f}×", style="bold cyan")
        text.append(f" the memory (−{reduction:.0%})")
        model_only = card.get("memory_ratio_model_only")
        if isinstance(model_only, (int, float)):
            text.append(f"; model only {model_only:.2f}×", style="dim")
    else:
        text.append("memory: not measured", style="dim")
    settings = [f"as {card[k]}" for k in ("variant",) if card.get(k)]
    if card.get("threads"):
        settings.append(f"{card['threads']} thread{'s' if card['threads'] != 1 else ''}")
    if card.get("examples"):
        settings.append(f"{card['examples']} examples")
    if settings:
        text.append("\n" + ", ".join(settings), style="dim")
    return text


class DistillCard(Static):
    """The card once the job wrote it; until then, what comes."""

    DEFAULT_CSS = "DistillCard { height: auto; }"

    def show(self, view: DistillView | None) -> None:
        card = view.card if view is not None else None
        if card is None:
            phase = view.state.phase("card") if view is not None else None
            self.update(Text("the card (teacher vs student on the same held-out examples) comes after training"
                             + (f": {phase.state}" if phase is not None and phase.state != "pending" else ""),
                             style="dim"))
            return
        tokenizers = tokenizer_line(card)
        notes = [Text(f"note: {n}", style="dim") for n in card.get("notes") or [] if isinstance(n, str)
                 and not (tokenizers is not None and "tokenize differently" in n)]  # said above, shorter
        self.update(Group(card_heading(card), card_table(card), *([tokenizers] if tokenizers else []), *notes))
