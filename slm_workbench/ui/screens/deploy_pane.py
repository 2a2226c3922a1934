"""The Deploy pane: pick a source and a target, build it as a job, and watch what it gives.

Targets are the stages the stage registry shows in this pane (``view="deploy"``), with its
titles: the packages (Foundry Local, GGUF + Ollama), the server and its load benchmark. Each
target's form is generated from its own recipe class (``RecipeForm``). The lower half follows
one run of a deploy stage (one just started, one picked or opened from the Runs pane, else a
server that runs, else the newest), its view chosen by what the stage produces:

- a package: the package and its smoke verdict, or a GGUF's files and its llama.cpp check
  (``widgets/package_summary.py``);
- a server: its URL and a live request log (``widgets/server_view.py``, reading the run's
  ``server.json`` and ``requests.jsonl`` through ``engine/serve/run_files.py``); a TUI opened
  while a server runs finds it in the run store and shows it again, with its log so far;
- a measurement: the load benchmark's table filling one client count at a time
  (``widgets/bench_table.py``).

``s`` stops the followed run while it lives, as ``s`` in the Runs pane does (``stop_job``).
Everything is read from the run's files (``ui/deploy_run.py``) by a thread worker, never in the
UI thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Button, DataTable, Input, Select, Static

from ...engine import stages
from ..deploy_run import DeployRunReader, produced_by
from ..messages import JobStarted, RunsRefreshed, StartJob
from ..pane_context import PaneContext
from ..visibility import is_shown
from ..widgets.bench_table import BenchTable
from ..widgets.package_summary import gguf_text, smoke_text
from ..widgets.recipe_form import RecipeForm
from ..widgets.server_view import ServerView

DEPLOY_ORDER = ("package", "server", "measurement")
"""Targets by what they give, in the order a model is deployed: packages, a server, its benchmark."""
SOURCE_FIELDS = ("source", "model", "target", "models")
"""The field a target's recipe names its source with (a picker of models and runs suggests values)."""


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
    alive: bool = False
    """The followed run's process lives (it can be stopped)."""
    activity: str = ""
    smoke: dict[str, Any] | None = None
    package: dict[str, Any] | None = None
    gguf: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    planned_clients: list[int] = field(default_factory=list)
    item_index: int | None = None
    """The position (from 1) of the item the last progress event is about (a benchmark's client count)."""
    server: dict[str, Any] | None = None
    requests: list[Any] = field(default_factory=list)
    """Request log lines appended since the last read (all of them when ``requests_reset``)."""
    requests_reset: bool = False
    error: str = ""


class DeployPane(Vertical):
    BINDINGS = [Binding("s", "stop_run", "Stop")]

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
    DeployPane #d-table, DeployPane #d-bench { height: 1fr; min-height: 4; }
    """

    def __init__(self, context: PaneContext, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run_store = context.run_store
        self._runs_feed = context.runs
        self.targets = available_targets()
        self.stages = stages.stages_viewed_in("deploy")
        self.followed: Path | None = None
        """The run picked (from the list, a Build, the Runs pane); None: a live server, else the newest."""
        self.latest: DeployRead | None = None
        self._runs: list[Any] | None = None
        self._poll_lock = threading.Lock()
        self._reader = DeployRunReader()
        """Reads the followed run (the poll thread's, under its lock)."""

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
        server = ServerView(id="d-server")
        server.display = False
        yield server
        bench = BenchTable(id="d-bench")
        bench.display = False
        yield bench
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
        source = ", ".join(source) if isinstance(source, list) else source
        self.post_message(StartJob(recipe, f"{dict(self.targets)[self.target].lower()}: {source}"))

    # -- stopping the followed run ----------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``s`` is shown (and works) while the followed run's process lives."""
        if action == "stop_run":
            return self.latest is not None and self.latest.alive
        return True

    def action_stop_run(self) -> None:
        """Stop the followed run as ``s`` in the Runs pane does (``launcher.stop_job``)."""
        if self.latest is None or not self.latest.alive or self.latest.run_id is None:
            return
        from ...engine.errors import WorkbenchError
        from ...engine.runs.launcher import stop_job

        run_dir = self.run_store.root / self.latest.run_id
        self.followed = run_dir  # keep showing it as it stops, whatever runs newer
        try:
            stop_job(self.run_store.info(run_dir))
        except WorkbenchError as exc:
            self.notify(str(exc), title="Deploy", severity="warning")
            return
        self.notify(f"stop requested for {run_dir.name}", title="Deploy")
        self._runs_feed.refresh_runs()

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
        self._take_keys()
        if self._runs is not None:
            self.poll(self._runs)

    def _take_keys(self) -> None:
        """Unless a field here has the keys, the followed run's table takes them (so ``s`` reaches
        the pane, as the run table takes them in the Runs pane), else the run picker."""
        if not is_shown(self) or self.has_focus_within:
            return
        shown = [w for w in (self.query_one("#d-server", ServerView).query_one("#srv-requests"),
                             self.query_one("#d-bench"), self.query_one("#d-table")) if is_shown(w)]
        self.screen.set_focus(shown[0] if shown else self.query_one("#d-runs"))

    @on(Select.Changed, "#d-runs")
    def _run_picked(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and (self.followed is None or event.value != self.followed.name):
            self.open_run(self.run_store.root / event.value)

    @staticmethod
    def _default_run(runs: list[Any]) -> Path | None:
        """With none picked: a server that runs (re-attaching after a restart), else the newest run."""
        serving = [r for r in runs if "server" in produced_by(r.stage) and r.alive]
        candidates = serving or runs
        return candidates[0].dir if candidates else None

    @work(thread=True, group="deploy-poll", description="read the followed deploy run", exit_on_error=False)
    def poll(self, everything: list[Any]) -> None:
        if not self._poll_lock.acquire(blocking=False):
            return
        try:
            runs = [r for r in everything if r.stage in self.stages]
            followed = self.followed or self._default_run(runs)
            if followed is None:
                self.post_message(DeployRead(runs))
                return
            read = self._reader.read(followed)
            self.post_message(DeployRead(runs, followed.name, **read))
        finally:
            self._poll_lock.release()

    def on_deploy_read(self, message: DeployRead) -> None:
        previous, self.latest = self.latest, message
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
        summary = smoke_text(message.smoke, message.package)
        if message.gguf:
            summary.append_text(gguf_text(message.gguf))
        self.query_one("#d-smoke", Static).update(summary)
        produces = produced_by(message.stage)
        self._show_server(message, "server" in produces)
        bench = self.query_one("#d-bench", BenchTable)
        bench.display = "measurement" in produces
        if bench.display:
            bench.show(message.planned_clients, message.rows, message.alive, message.item_index)
        self._fill_table([] if produces & {"server", "measurement"} else message.rows)
        if previous is None or previous.alive != message.alive or previous.run_id != message.run_id:
            self._take_keys()
            self.refresh_bindings()  # the footer shows Stop while the followed run can be stopped

    def _show_server(self, message: DeployRead, serving: bool) -> None:
        view = self.query_one("#d-server", ServerView)
        view.display = serving
        if not serving:
            return
        if message.requests_reset:
            view.clear()
        view.show_server(message.state, message.alive, message.server, message.activity)
        view.add_requests(message.requests)

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
