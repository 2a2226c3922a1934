"""The Deploy pane: pick a source and a target, build it as a job, and watch what it gives.

Targets are the stages the stage registry shows in this pane (``view="deploy"``), with its
titles: the packages (Foundry Local, GGUF + Ollama), the server and its load benchmark. Each
target's form is generated from its own recipe class (``RecipeForm``). The lower half follows
one run of a deploy stage (the newest, one just started, or one opened from the Runs pane):
its state and progress, the smoke test's verdict (``artifacts/smoke.json``), and its metrics
rows as a table (a benchmark's figures, a server's request log), all read from the run's files
by a thread worker, never in the UI thread.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Button, DataTable, Input, Select, Static

from ...engine import stages
from ..messages import JobStarted, RunsRefreshed, StartJob
from ..pane_context import PaneContext
from ..visibility import is_shown
from ..widgets.recipe_form import RecipeForm

DEPLOY_ORDER = ("package", "server", "measurement")
"""Targets by what they give, in the order a model is deployed: packages, a server, its benchmark."""
SOURCE_FIELDS = ("source", "model", "target")
"""The field a target's recipe names its source with (a picker of models and runs suggests values)."""
TABLE_ROWS = 50


def available_targets() -> list[tuple[str, str]]:
    """Every stage whose view is this pane, with the registry's title, in ``DEPLOY_ORDER``."""
    specs = [stages.stage(name) for name in stages.stages_viewed_in("deploy")]
    specs.sort(key=lambda spec: min((DEPLOY_ORDER.index(p) for p in spec.produces if p in DEPLOY_ORDER),
                                    default=len(DEPLOY_ORDER)))
    return [(spec.name, spec.title) for spec in specs]


@dataclass
class DeployRead(Message):
    """What the poll worker read: the deploy runs, and the followed run's files."""

    runs: list[Any]
    run_id: str | None = None
    stage: str = ""
    state: str = ""
    activity: str = ""
    smoke: dict[str, Any] | None = None
    package: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def read_run(run_dir: Path) -> dict[str, Any]:
    """The followed run's state, last progress, smoke verdict, package and metrics rows."""
    from ...engine.events import Progress
    from ...engine.runs.run import Run

    run = Run(run_dir)
    progress = [e for e in run.events() if isinstance(e, Progress)]
    error = run.last_error()
    activity = ""
    if progress:
        p = progress[-1]
        activity = p.phase + (f" {p.done:g}/{p.total:g} {p.unit}".rstrip() if p.total else "")
    rows = [{k: v for k, v in row.items() if k != "time"} for row in run.metrics(last=TABLE_ROWS)]

    def artifact_json(name: str) -> dict[str, Any] | None:
        try:
            data = json.loads(run.artifact(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    return {"stage": run.stage, "state": run.info().state, "activity": activity, "rows": rows,
            "smoke": artifact_json("smoke.json"), "package": artifact_json("package.json"),
            "error": error.message if error else ""}


def smoke_text(smoke: dict[str, Any] | None, package: dict[str, Any] | None) -> Text:
    out = Text()
    if package:
        out.append(f"package {package.get('model_id')}", style="bold")
        out.append(f"  {package.get('folder')}" + ("  (registered in Foundry Local)" if package.get("installed") else ""))
        out.append("\n")
    if smoke is None:
        return out
    verdict = smoke.get("verdict", "?")
    style = {"identical": "bold green", "differs": "bold red", "failed": "bold red"}.get(verdict, "yellow")
    out.append("smoke test: ", style="bold")
    out.append(verdict, style=style)
    if smoke.get("reason"):
        out.append(f"  {smoke['reason']}")
    for p in smoke.get("prompts", []):
        if p.get("identical"):
            out.append(f"\n  ✓ {p['prompt']!r}: {p['foundry_text']!r}")
        else:
            d = p.get("first_difference") or {}
            out.append(f"\n  ✗ {p['prompt']!r}: token {d.get('index')} Foundry {d.get('foundry')!r} vs "
                       f"workbench {d.get('workbench')!r}\n    Foundry: {p['foundry_text']!r}\n    "
                       f"workbench: {p['workbench_text']!r}", style="red")
    return out


class DeployPane(Vertical):
    DEFAULT_CSS = """
    DeployPane { padding: 0 1; }
    DeployPane #d-top { height: auto; }
    DeployPane #d-target { width: 32; }
    DeployPane #d-start { margin-left: 1; min-width: 10; }
    DeployPane #d-forms { height: auto; max-height: 12; }
    DeployPane RecipeForm { height: auto; }
    DeployPane #d-status { height: auto; margin-top: 1; }
    DeployPane #d-runs { width: 40; }
    DeployPane #d-activity { width: 1fr; margin-left: 1; }
    DeployPane #d-smoke { height: auto; max-height: 10; }
    DeployPane #d-table { height: 1fr; min-height: 4; }
    """

    def __init__(self, context: PaneContext, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run_store = context.run_store
        self._runs_feed = context.runs
        self.targets = available_targets()
        self.stages = stages.stages_viewed_in("deploy")
        self.followed: Path | None = None
        self.latest: DeployRead | None = None
        self._runs: list[Any] | None = None
        self._poll_lock = threading.Lock()

    def compose(self) -> ComposeResult:
        with Horizontal(id="d-top"):
            yield Select(self._options(), value=self.targets[0][0], allow_blank=False, id="d-target", compact=True,
                         tooltip="what to build: each target is a job stage")
            yield Button("Build", id="d-start", variant="success", compact=True,
                         tooltip="start the target's job (slmw deploy …)")
        with VerticalScroll(id="d-forms"):
            for i, (stage, _title) in enumerate(self.targets):
                form = RecipeForm(stages.stage(stage).recipe_class(), prefix=f"d{i}-", columns=2,
                                  id=f"d-form-{i}")
                form.display = i == 0
                yield form
        with Horizontal(id="d-status"):
            yield Select([], prompt="no deploy run yet", id="d-runs", compact=True, tooltip="deploy runs, newest first")
            yield Static("", id="d-activity")
        yield Static("", id="d-smoke")
        table = DataTable(id="d-table", zebra_stripes=True, cursor_type="row")
        table.display = False
        yield table

    def _options(self) -> list[tuple[str, str]]:
        return [(title, stage) for stage, title in self.targets]

    def on_mount(self) -> None:
        self._suggest_sources()
        self._runs_feed.subscribe_runs(self)

    def _suggest_sources(self) -> None:
        from ...engine.models.resolve import prepared_models

        names = [ref.name for ref in prepared_models()]
        for i, _target in enumerate(self.targets):
            for name in SOURCE_FIELDS:
                for control in self.query(f"#d{i}-{name}").results(Input):
                    control.suggester = SuggestFromList(names, case_sensitive=False)
                    control.placeholder = "model, run id or RUN:VARIANT"

    # -- picking and building -------------------------------------------------------------------
    @property
    def target(self) -> str:
        value = self.query_one("#d-target", Select).value
        return value if isinstance(value, str) else self.targets[0][0]

    def form(self) -> RecipeForm:
        index = [stage for stage, _ in self.targets].index(self.target)
        return self.query_one(f"#d-form-{index}", RecipeForm)

    def field_to_type(self) -> Input | None:
        """``/`` types in the shown target's source field (else its first field)."""
        if not self.query("#d-target"):
            return None  # not composed yet
        inputs = list(self.form().query(Input))
        return next((i for i in inputs if i.id and i.id.rpartition("-")[2] in SOURCE_FIELDS), inputs[0] if inputs else None)

    @on(Select.Changed, "#d-target")
    def _target_picked(self, _event: Select.Changed) -> None:
        shown = self.form()
        for form in self.query(RecipeForm):
            form.display = form is shown

    @on(Button.Pressed, "#d-start")
    def action_build(self) -> None:
        try:
            recipe = self.form().check({"stage": self.target})
        except ValueError as exc:
            self.notify(str(exc), title="Cannot start", severity="error", timeout=10)
            return
        source = next((getattr(recipe, name) for name in SOURCE_FIELDS if hasattr(recipe, name)), "")
        self.post_message(StartJob(recipe, f"{dict(self.targets)[self.target].lower()}: {source}"))

    # -- following a run --------------------------------------------------------------------------
    def open_run(self, run_dir: Path) -> None:
        """The stage registry's view of deploy runs: show this one."""
        self.followed = run_dir
        self.poll(self._runs if self._runs is not None else (self._runs_feed.runs or []))

    def on_job_started(self, message: JobStarted) -> None:
        message.stop()
        self.open_run(message.run_dir)

    def on_runs_refreshed(self, message: RunsRefreshed) -> None:
        message.stop()
        self._runs = message.runs
        if is_shown(self):
            self.poll(message.runs)

    def on_show(self) -> None:
        if self._runs is not None:
            self.poll(self._runs)

    @on(Select.Changed, "#d-runs")
    def _run_picked(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and (self.followed is None or event.value != self.followed.name):
            self.open_run(self.run_store.root / event.value)

    @work(thread=True, group="deploy-poll", description="read the followed deploy run", exit_on_error=False)
    def poll(self, everything: list[Any]) -> None:
        if not self._poll_lock.acquire(blocking=False):
            return
        try:
            runs = [r for r in everything if r.stage in self.stages]
            followed = self.followed or (runs[0].dir if runs else None)
            if followed is None:
                self.post_message(DeployRead(runs))
                return
            self.post_message(DeployRead(runs, followed.name, **read_run(followed)))
        finally:
            self._poll_lock.release()

    def on_deploy_read(self, message: DeployRead) -> None:
        self.latest = message
        picker = self.query_one("#d-runs", Select)
        options = [(f"{r.id[-4:]} {r.stage} · {r.state}", r.id) for r in message.runs]
        with self.prevent(Select.Changed):
            picker.set_options(options)
            if message.run_id in {r.id for r in message.runs}:
                picker.value = message.run_id
        activity = Text()
        if message.run_id:
            activity.append(f"{message.stage} {message.state}", style="bold")
            if message.activity and message.state in ("running", "queued"):
                activity.append(f" · {message.activity}")
            if message.error:
                activity.append(f" · {message.error}", style="red")
        self.query_one("#d-activity", Static).update(activity)
        self.query_one("#d-smoke", Static).update(smoke_text(message.smoke, message.package))
        self._fill_table(message.rows)

    def _fill_table(self, rows: list[dict[str, Any]]) -> None:
        table = self.query_one("#d-table", DataTable)
        table.clear(columns=True)
        table.display = bool(rows)
        if not rows:
            return
        columns = list(dict.fromkeys(k for row in rows for k in row))
        table.add_columns(*columns)
        for row in rows:
            table.add_row(*(_cell(row.get(c)) for c in columns))


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
