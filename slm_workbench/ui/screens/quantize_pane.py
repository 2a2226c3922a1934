"""The Quantize & Compare pane: pick a model or a run, pick variants, build and measure them as
one ``compare`` job, and read the result as a sortable table and bar charts.

The pane never measures anything itself: Compare starts the same detached job ``slmw compare``
starts (``Export`` the same as ``slmw export``), through ``StartJob``; on each run list the
app's runs watcher sends, a thread worker tails the followed run's files. Rows fill in per variant while the job runs (its
``metrics.jsonl`` and progress events, folded by ``CompareProgress``), then ``report.json``
replaces them with the judged, ranked figures. Reopening the TUI follows the newest
comparison again; earlier ones stay one pick away in the history.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, ProgressBar, Select, Static

from ...engine.compare.progress import CompareProgress
from ...engine.stages import model_stages, stages_viewed_in
from ...engine.runs import launcher
from ...engine.runs.run import Run
from ...engine.runs.store import RunInfo
from ...engine.runs.follow import RunFollower
from ..format import STATE_STYLES, clock
from ..messages import CompareRunsListed, CompareUpdate, JobStarted, OpenInChat, RunsRefreshed, StartJob
from ..pane_context import PaneContext
from ..variant_rows import VariantRow, rows_from_progress, rows_from_report, verdict_text
from ..visibility import is_shown
from ..widgets.compare_form import CompareForm
from ..widgets.variant_bars import VariantBars
from ..widgets.variant_table import VariantTable

STAGES = stages_viewed_in("quantize")
MODEL_STAGES = model_stages()


def expected_rows(recipe: Any) -> list[str]:
    """The variants a compare/export recipe will show, the reference first (a comparison of the variants
    already built, ``variants`` None, shows them once the job names them)."""
    return (["torch-fp32"] if recipe.stage == "compare" and recipe.reference else []) + list(recipe.variants or [])


class QuantizePane(Vertical):
    BINDINGS = [
        Binding("c", "chat", "Chat with variant"),
        Binding("v", "chat_vs_reference", "Chat vs reference"),
        Binding("x", "stop", "Stop job"),
        Binding("p", "copy_report_path", "Report path"),
    ]
    DEFAULT_CSS = """
    QuantizePane { height: 1fr; padding: 0 1; }
    QuantizePane #q-status { height: 1; }
    QuantizePane #q-history { width: 1fr; max-width: 64; }
    QuantizePane #q-history SelectCurrent Static#label { text-wrap: nowrap; text-overflow: ellipsis; }
    QuantizePane #q-activity { width: 1fr; margin-left: 1; }
    QuantizePane #q-progress { width: 24; }
    QuantizePane VariantTable { height: 1fr; min-height: 4; }
    QuantizePane #q-bars { height: auto; max-height: 12; }
    QuantizePane VariantBars { width: 1fr; margin-right: 2; }
    QuantizePane #q-message { height: auto; max-height: 3; color: $text-muted; }
    """

    def __init__(self, context: PaneContext, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run_store = context.run_store
        self._runs_feed = context.runs
        self._poll_interval = context.poll_interval
        self._poll_lock = threading.Lock()
        self._runs: list[RunInfo] | None = None
        """The newest run list the app sent (read when the pane is shown)."""
        self._follow: tuple[int, Path | None] = (0, None)
        """(generation, run dir) the worker tails; a new pick bumps the generation."""
        self._follower: RunFollower | None = None
        self._followed_gen = -1
        self._report_read: tuple[int, float] | None = None
        self.progress = CompareProgress()
        self.report = None
        self.run_id: str | None = None
        self.run_state = ""
        self.history: list[RunInfo] = []
        self.trained: list[RunInfo] = []
        self._sources: dict[str, str | None] = {}

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield CompareForm(id="q-form")
        with Horizontal(id="q-status"):
            yield Select([], prompt="no comparison yet", id="q-history", compact=True, tooltip="earlier jobs")
            yield Static("", id="q-activity")
            yield ProgressBar(total=None, show_eta=False, id="q-progress")
        yield VariantTable(id="q-table")
        with Horizontal(id="q-bars"):
            yield VariantBars("decode_tok_s", "decode tok/s ↑", ".1f", id="q-bars-speed")
            yield VariantBars("size_mb", "size MB ↓", ".0f", id="q-bars-size")
            yield VariantBars("perplexity", "perplexity ↓", ".2f", id="q-bars-ppl")
        yield Static("", id="q-message")

    def on_mount(self) -> None:
        self.query_one("#q-table").border_title = "Variants"
        self._show()
        self._runs_feed.subscribe_runs(self)
        self.call_after_refresh(self.on_show)  # built while shown: no Show event follows

    def on_show(self) -> None:
        """The table takes the keys (c, v, x, sorting) unless a field here already has them."""
        if not is_shown(self):
            return
        if not self.has_focus_within:
            self.query_one(VariantTable).focus()
        if self._runs is not None:
            self.poll(self._runs)

    # -- launching ----------------------------------------------------------------------------
    def checked_variants(self) -> list[str]:
        return self.query_one(CompareForm).checked_variants()

    @on(Button.Pressed, "#q-compare")
    def action_compare(self) -> None:
        self._launch("compare")

    @on(Button.Pressed, "#q-export")
    def action_export(self) -> None:
        self._launch("export")

    def _launch(self, stage: str) -> None:
        from ...engine.errors import WorkbenchError

        try:
            recipe, name = self.query_one(CompareForm).recipe(stage)
        except WorkbenchError as exc:
            self.notify(exc.message + (f"\n{exc.hint}" if exc.hint else ""), title="Cannot start", severity="error",
                        timeout=10)
            return
        self.post_message(StartJob(recipe, f"{stage} {name}: {','.join(recipe.variants)}"))

    def on_job_started(self, message: JobStarted) -> None:
        """A compare or export job started from here: follow it, its rows there before any number."""
        message.stop()
        self.follow(message.run_dir, expect=expected_rows(message.recipe))

    # -- following a job ----------------------------------------------------------------------
    def open_run(self, run_dir: Path) -> None:
        """The stage registry's view of export and compare runs: show this one."""
        self.follow(run_dir)

    def follow(self, run_dir: Path | None, expect: list[str] | None = None) -> None:
        """Show ``run_dir`` (an export or compare run) from its first line on."""
        generation = self._follow[0] + 1
        self._follow = (generation, run_dir)
        self.progress = CompareProgress()
        if expect:
            self.progress.expect(expect)
        self.report, self.run_id, self.run_state = None, run_dir.name if run_dir else None, ""
        self._show()
        if run_dir is not None and run_dir.name in {r.id for r in self.history}:
            with self.prevent(Select.Changed):
                self.query_one("#q-history", Select).value = run_dir.name
        self.poll(self._runs_feed.runs or [])

    @on(Select.Changed, "#q-history")
    def _history_picked(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.run_id:
            self.follow(self.run_store.root / event.value)

    def on_runs_refreshed(self, message: RunsRefreshed) -> None:
        message.stop()
        self._runs = message.runs
        if is_shown(self):  # a hidden pane reads nothing: it catches up when shown
            self.poll(message.runs)

    @work(thread=True, group="quantize-poll", description="tail the followed comparison", exit_on_error=False)
    def poll(self, everything: list[RunInfo]) -> None:
        if not self._poll_lock.acquire(blocking=False):
            return  # the previous poll is still reading
        try:
            runs = [r for r in everything if r.stage in STAGES]
            trained = [r for r in everything if r.stage in MODEL_STAGES and r.state == "done" and Run(r.dir).has_model]
            unattached = self._follow == (0, None) and bool(runs)
            if (unattached or [(r.id, r.state) for r in runs] != [(r.id, r.state) for r in self.history]
                    or [r.id for r in trained] != [r.id for r in self.trained]):
                self.post_message(CompareRunsListed(runs, trained))
            generation, run_dir = self._follow
            if run_dir is None:
                return  # on_compare_runs_listed re-attaches to the newest comparison
            if self._followed_gen != generation:
                self._follower, self._followed_gen, self._report_read = RunFollower(run_dir), generation, None
            assert self._follower is not None
            output = self._follower.read_new()
            info = self.run_store.info(run_dir)
            report, error = self._read_report(run_dir, generation)
            self.post_message(CompareUpdate(generation, run_dir.name, info.state, output, report, error))
        finally:
            self._poll_lock.release()

    def _read_report(self, run_dir: Path, generation: int) -> tuple[object | None, str]:
        """The report once (and again if the file changes); None while there is none."""
        from ...engine.compare.report import load_report

        path = Run(run_dir).report_path("json")
        try:
            stamp = (generation, path.stat().st_mtime)
        except OSError:
            return None, ""
        if stamp == self._report_read:
            return None, ""
        self._report_read = stamp
        try:
            return load_report(path), ""
        except (OSError, ValueError, TypeError, KeyError) as exc:
            return None, f"cannot read {path}: {exc}"

    def on_compare_runs_listed(self, message: CompareRunsListed) -> None:
        message.stop()
        self.history, self.trained = message.runs, message.trained
        self.query_one(CompareForm).set_trained_runs(message.trained)
        options = [(Text.assemble(f"{clock(r.status.created if r.status else None)} {r.title}  ",
                                  (r.state, STATE_STYLES.get(r.state, "")), no_wrap=True, overflow="ellipsis"), r.id)
                   for r in message.runs]
        history = self.query_one("#q-history", Select)
        with self.prevent(Select.Changed):
            history.set_options(options)
            if self.run_id in {r.id for r in message.runs}:
                history.value = self.run_id
        if self._follow == (0, None) and message.runs:  # re-attach: follow the newest one
            self.follow(message.runs[0].dir)

    def on_compare_update(self, message: CompareUpdate) -> None:
        message.stop()
        if message.generation != self._follow[0]:
            return  # about a run no longer followed
        changed = message.state != self.run_state
        self.run_state = message.state
        if message.output is not None:
            changed = self.progress.feed(message.output.events, message.output.metrics) or changed
        if message.report is not None:
            self.report, changed = message.report, True
        if message.report_error:
            self.notify(message.report_error, severity="error")
        if changed:
            self._show()

    # -- showing ------------------------------------------------------------------------------
    def rows(self) -> list[VariantRow]:
        return rows_from_report(self.report) if self.report is not None else rows_from_progress(self.progress)

    def _show(self) -> None:
        rows = self.rows()
        self.query_one(VariantTable).show_rows(rows)
        for bars in self.query(VariantBars):
            bars.show_rows(rows)
        active = self.run_state in ("queued", "running")
        activity = Text()
        if self.run_id:
            activity.append(self.run_state or "…", style=STATE_STYLES.get(self.run_state, ""))
            current = self.progress.variants.get(self.progress.current)
            if active and current is not None:
                activity.append(f"  {current.name}: {current.activity}")
            elif active and self.progress.overall:
                activity.append(f"  {self.progress.overall}")
        self.query_one("#q-activity", Static).update(activity)
        done = sum(1 for r in rows if r.finished)
        bar = self.query_one("#q-progress", ProgressBar)
        bar.update(total=max(1, len(rows)), progress=done)
        bar.display = active
        self.query_one("#q-message", Static).update(self._message())
        self.refresh_bindings()

    def _message(self) -> Text:
        if self.progress.error:
            return Text(self.progress.error, style="bold red")
        if self.report is not None:
            return verdict_text(self.report)
        if not self.run_id:
            return Text("Pick a model or a run and the variants, then Compare: missing variants are built, then every "
                        "one is measured against PyTorch fp32 on the same token ids.", style="dim")
        return Text("")

    # -- acting on a variant ------------------------------------------------------------------
    def on_variant_table_selected(self, message: VariantTable.Selected) -> None:
        message.stop()
        self.refresh_bindings()

    def _selected_spec(self) -> tuple[str, str] | None:
        """(the reference's model spec, the selected variant's) for the followed comparison."""
        row = self.query_one(VariantTable).selected_variant
        source = (self.report.source.get("name") if self.report is not None else None) or self._source_of_run()
        if row is None or not source or not row.ready:
            return None
        return source, source if row.reference else f"{source}:{row.name}"

    def _source_of_run(self) -> str | None:
        if self.run_id is None:
            return None
        if self.run_id not in self._sources:
            self._sources[self.run_id] = self._read_source(self.run_id)
        return self._sources[self.run_id]

    def _read_source(self, run_id: str) -> str | None:
        """The MODEL in MODEL:VARIANT for a job's variants, from its recipe."""
        model = Run(self.run_store.root / run_id).recipe_data().get("model")
        if not isinstance(model, str):
            return None
        from ...engine.errors import WorkbenchError
        from ...engine.model_source import resolve_source

        try:
            return resolve_source(model).name
        except WorkbenchError:
            return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer offers what applies now: chat with a measured, unbroken variant, stop a job
        that runs, the path of a report that exists."""
        if action in ("chat", "chat_vs_reference"):
            spec = self._selected_spec()
            return spec is not None and (action == "chat" or spec[0] != spec[1])
        if action == "stop":
            return self.run_state in ("queued", "running")
        if action == "copy_report_path":
            return self.report is not None
        return True

    def action_chat(self) -> None:
        spec = self._selected_spec()
        if spec is not None:
            self.post_message(OpenInChat([spec[1]]))

    def action_chat_vs_reference(self) -> None:
        spec = self._selected_spec()
        if spec is not None and spec[0] != spec[1]:
            self.post_message(OpenInChat([spec[0], spec[1]]))

    def action_stop(self) -> None:
        from ...engine.errors import WorkbenchError

        if self.run_id is None:
            return
        try:
            launcher.stop_job(self.run_store.get(self.run_id))
        except WorkbenchError as exc:
            self.notify(exc.message, severity="warning")
            return
        self.notify(f"stopping {self.run_id}", title="Quantize & Compare")

    def action_copy_report_path(self) -> None:
        if self.run_id is None:
            return
        path = Run(self.run_store.root / self.run_id).report_path("markdown")
        self.app.copy_to_clipboard(str(path))
        self.notify(f"{path}\n(also report.json and report.csv beside it)", title="Report (path copied)")
