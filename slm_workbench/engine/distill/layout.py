"""What a distillation leaves on disk, and how readers (the Distill pane, the CLI) read it.

A ``distill`` run directory holds::

    artifacts/distill.json   the phases (name, state, child run, detail), rewritten atomically
    artifacts/student/       the student as a normal HF folder (a keep_layers copy), when built here
    artifacts/report.json    the card: teacher and student figures + speedup, memory_ratio, accuracy_retained
    artifacts/card.md        the card as Markdown

and starts child runs of other stages, which own their own directories: ``data.generate`` (the
teacher's answers: ``rows.jsonl`` with every verdict, ``data.jsonl`` with the kept rows,
``manifest.json``, in its ``artifacts/generated`` unless the recipe names another folder), and
``train`` (the student's curves in its ``metrics.jsonl``). The paths come from ``Run`` (which owns
the run directory's names); the names here are the files of a distillation inside ``artifacts``.
Nothing here imports the ML stack.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..runs.run import Run

DISTILL_STATE = "distill.json"
CARD_JSON = "report.json"
CARD_MD = "card.md"
STUDENT_DIR = "student"

PHASES: tuple[str, ...] = ("teacher", "generate", "student", "train", "export", "card")
"""In order. ``teacher`` trains the teacher from ``teacher_recipe`` (skipped when a teacher is given);
``export`` builds the ONNX variants the card measures (skipped when the card uses PyTorch)."""
PHASE_STATES: tuple[str, ...] = ("pending", "running", "done", "skipped", "failed", "cancelled")


@dataclass
class Phase:
    name: str
    state: str = "pending"
    run: str | None = None
    """The child run doing this phase's work (``data.generate``, ``train``, ``eval`` ...), if any."""
    detail: str = ""
    started: float | None = None
    ended: float | None = None


@dataclass
class DistillState:
    phases: list[Phase] = field(default_factory=lambda: [Phase(name) for name in PHASES])
    teacher: dict[str, Any] = field(default_factory=dict)
    """``spec`` (as given), ``answers`` (what answers the prompts, e.g. ``RUN:int8``), ``pytorch``
    (the HF folder or run the student is cut from and logit KD loads), ``run`` (its training run)."""
    student: dict[str, Any] = field(default_factory=dict)
    """``spec`` (what training loads), ``layers`` (kept layer indices of a keep_layers copy), ``params``."""
    generated: str | None = None
    """The generation's output folder (``rows.jsonl``, ``data.jsonl``, ``manifest.json``)."""

    def phase(self, name: str) -> Phase:
        return next(p for p in self.phases if p.name == name)

    @property
    def current(self) -> Phase | None:
        """The phase running now, else the first not finished, else None (all done or skipped)."""
        running = [p for p in self.phases if p.state == "running"]
        if running:
            return running[0]
        return next((p for p in self.phases if p.state not in ("done", "skipped")), None)

    def run_of(self, name: str) -> str | None:
        return self.phase(name).run

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DistillState:
        known = {p.get("name"): p for p in data.get("phases", []) if isinstance(p, dict)}
        phases = [Phase(**{k: v for k, v in known.get(name, {}).items() if k in Phase.__dataclass_fields__})
                  if name in known else Phase(name) for name in PHASES]
        return cls(phases=phases, teacher=dict(data.get("teacher") or {}), student=dict(data.get("student") or {}),
                   generated=data.get("generated"))


def state_path(run_dir: Path) -> Path:
    return Run(Path(run_dir)).artifact(DISTILL_STATE)


def card_path(run_dir: Path) -> Path:
    """The card's figures (``artifacts/report.json``) of a ``distill`` run."""
    return Run(Path(run_dir)).artifact(CARD_JSON)


def read_state(run_dir: Path) -> DistillState:
    """The run's phases (all pending when the job has not written them yet, or the file is unreadable)."""
    try:
        return DistillState.from_dict(json.loads(state_path(run_dir).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return DistillState()


def write_state(run_dir: Path, state: DistillState) -> None:
    path = state_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state.as_dict(), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_card(run_dir: Path) -> dict[str, Any] | None:
    """The card (``artifacts/report.json``) once written, else None."""
    try:
        data = json.loads(card_path(run_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
