"""The Data pane: open a dataset, see its rows, check every one, see a row as the trainer does, prepare it.

Every read of the file and every tokenization runs in a thread worker that calls the
UI-free dataset engine (``engine/data``, imported inside the workers, so opening the
workbench loads none of it) and posts a typed message from ``ui/data_messages.py``. On
opening a file the pane reads the first rows (milliseconds, even for a large file), then
checks every row, and renders the highlighted row with its loss mask. Files up to
``AUTO_MEASURE_BYTES`` are also tokenized whole (the checks then cover length and control
tokens, and a dry run of prepare measures token lengths); Check does that for any size.
Prepare always starts a ``data.prepare`` job (``StartJob``): its run directory records the
lineage, it survives closing the TUI, and the Runs pane follows it.

Each reload bumps ``gen``; workers are exclusive per group and stop between batches
when replaced, and a message from an older ``gen`` is dropped. Problems that are the
answer to what the user asked (an unreadable file, a row that cannot be rendered, a model
not prepared) are shown where they belong; anything else fails the worker and reaches the
app's one error handler.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from ...engine.errors import Cancelled, WorkbenchError
from .. import data_messages as msg
from ..format import human_bytes
from ..messages import StartJob
from ..pane_context import PaneContext
from ..visibility import mark_narrow
from ..widgets.data_preview import DataPreview, PreviewRow
from ..widgets.data_settings import DEFAULT_MODEL, DataSettings, DataSettingsValues
from ..widgets.data_source import SourcePicker
from ..widgets.length_histogram import LengthHistogram
from ..widgets.loss_mask import LossMaskView
from ..widgets.validation_report import ValidationView

if TYPE_CHECKING:
    from ...engine.data import Preview, Source

PREVIEW_ROWS = 50
AUTO_MEASURE_BYTES = 8_000_000
"""Files up to this size are tokenized whole on opening (the checks with the tokenizer, and the
lengths); larger ones get the structural checks, and the rest on Check (a tokenized pass runs
at roughly 1 MB/s a core, against some 20 MB/s for the structural one)."""
_TOKENIZER_LOCK = threading.Lock()


def tokenizer_for(model: str, chat_template: str | None = None) -> Any:
    """The model's tokenizer, loaded by one worker at a time: ``transformers``' lazy imports are
    not thread-safe, and the sample, the checks and the lengths all want it at once. Loaded
    here first, the engine's own ``load_tokenizer`` then finds it in its cache."""
    from ...engine.data import load_tokenizer

    with _TOKENIZER_LOCK:
        return load_tokenizer(model, chat_template)


def cancel_check() -> Callable[[], None]:
    """The engine's ``check_cancelled`` for the current worker: stops it once it is replaced."""
    worker = get_current_worker()

    def check() -> None:
        if worker.is_cancelled:
            raise Cancelled()

    return check


def error_text(message: str, hint: str | None) -> Text:
    text = Text("✗ " + message, style="red")
    if hint:
        text.append(f"  (hint: {hint})", style="dim")
    return text


class DataPane(Vertical):
    DEFAULT_CSS = """
    DataPane { height: 1fr; }
    DataPane #data-status { height: auto; max-height: 2; padding: 0 1; }
    DataPane #data-main { height: 1fr; }
    DataPane #data-left { width: 1fr; }
    DataPane #data-preview { height: 2fr; border: round $primary; }
    DataPane #data-tabs { height: 3fr; }
    DataPane #data-tabs ContentSwitcher { height: 1fr; }
    DataPane TabPane { height: 1fr; padding: 0; }
    DataPane #data-settings { width: 46; border: round $panel; }
    """

    def __init__(self, context: PaneContext, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run_store = context.run_store
        self.gen = 0
        self.source: Source | None = None
        self.preview: Preview | None = None
        self.tokenizer_ok: bool | None = None
        self._default_output = ""
        self._spec = ""
        self._measure_gen = -1
        self._sample_key: tuple[int, int] | None = None
        self._shown = False
        self._rendered_once = False
        self._preloaded = ""

    def compose(self) -> ComposeResult:
        yield SourcePicker(id="data-source")
        yield Static(Text("open a dataset: type its path (or slmw:demo) and press enter, or Browse", style="dim"),
                     id="data-status")
        with Horizontal(id="data-main"):
            with Vertical(id="data-left"):
                yield DataPreview(id="data-preview")
                with TabbedContent(id="data-tabs"):
                    with TabPane("Sample", id="tab-sample"):
                        yield LossMaskView(id="data-sample")
                    with TabPane("Report", id="tab-report"):
                        yield ValidationView(id="data-report")
                    with TabPane("Lengths", id="tab-lengths"):
                        with VerticalScroll():
                            yield LengthHistogram(id="data-lengths")
            yield DataSettings(id="data-settings")

    def on_mount(self) -> None:
        self.query_one(DataPreview).border_title = "Preview"
        self.query_one(DataSettings).border_title = "Settings"
        self.call_after_refresh(lambda: self.check_tokenizer(self.query_one(DataSettings).model))  # once the form is in

    def on_resize(self) -> None:
        mark_narrow(self)

    def on_show(self) -> None:
        self._shown = True
        if self.tokenizer_ok:
            self._preload(self.query_one(DataSettings).model)

    def on_hide(self) -> None:
        self._shown = False

    # -- helpers ------------------------------------------------------------------------------
    def _settings(self) -> DataSettingsValues | None:
        try:
            return self.query_one(DataSettings).values()
        except ValueError as exc:
            self.notify(str(exc), title="Data settings", severity="error")
            return None

    def _status(self, text: str | Text) -> None:
        self.query_one("#data-status", Static).update(text)

    def _tab_label(self, pane_id: str, label: str) -> None:
        self.query_one(TabbedContent).get_tab(pane_id).label = label

    # -- opening ------------------------------------------------------------------------------
    @on(SourcePicker.Chosen)
    def _source_chosen(self, message: SourcePicker.Chosen) -> None:
        message.stop()
        self.open(message.spec)
        if self.tokenizer_ok is not True:  # the built-in model on first use: prepared as a job
            self.check_tokenizer(self.query_one(DataSettings).model, prepare=True)

    def open(self, spec: str, settings: DataSettingsValues | None = None) -> None:
        """Read the first rows of ``spec``; the checks, sample and lengths follow."""
        settings = settings or self._settings()
        if settings is None:
            return
        self.gen += 1
        self._spec = spec
        self._sample_key = None
        self._status(Text(f"reading {spec}…", style="dim"))
        self.read_preview(self.gen, spec, settings, None)

    @work(thread=True, exclusive=True, group="data-preview", description="read the first rows", exit_on_error=False)
    def read_preview(self, gen: int, spec: str | Source, settings: DataSettingsValues, focus_row: int | None) -> None:
        from ...engine.data.preview import preview_as_prepared

        n = PREVIEW_ROWS if focus_row is None else max(PREVIEW_ROWS, focus_row + PREVIEW_ROWS // 2)
        try:
            pv = preview_as_prepared(spec, n, format=settings.format, columns=settings.columns, roles=settings.roles)
        except WorkbenchError as exc:
            self.post_message(msg.DataFailed(gen, "preview", exc.message, exc.hint))
            return
        if focus_row is not None and len(pv.rows) + len(pv.issues) > PREVIEW_ROWS:
            pv = pv.from_row(max(1, n - PREVIEW_ROWS + 1))  # a window of rows around the one asked for
        self.post_message(msg.PreviewLoaded(gen, pv, focus_row))

    def on_preview_loaded(self, message: msg.PreviewLoaded) -> None:
        message.stop()
        if message.gen != self.gen:
            return
        pv = message.preview
        self.source, self.preview = pv.source, pv
        self.query_one(DataPreview).show(pv, message.focus_row)
        if message.focus_row is not None:
            return  # a window around a row the report pointed at; the checks already ran
        self._status(self._describe(pv))
        settings = self._settings()
        if settings is None:
            return
        self._show_fields(pv, settings)
        self._suggest_output(pv.source)
        if not self.query_one(DataPreview).rows_shown:
            self.query_one(LossMaskView).show_message(Text("no rows to show", style="dim"))
        self.run_checks(settings, tokenize=self._small() or self._measure_gen == self.gen)

    def _describe(self, pv: Preview) -> Text:
        source, det = pv.source, pv.detection
        text = Text()
        text.append(source.spec, style="bold")
        size = f", {human_bytes(source.size)}" if source.size is not None else ""
        text.append(f" · {source.kind}{size} · ")
        if det.spec is None:
            text.append(f"format unknown: {det.reason}", style="yellow")
            text.append(" · choose a format and map the columns in Settings", style="dim")
        else:
            text.append(f"format {det.spec.describe()}", style="cyan")
            text.append(f" ({det.reason})", style="dim")
        shown = len(self.query_one(DataPreview).rows_shown)
        text.append(f" · first {shown} rows in {pv.seconds * 1000:.0f} ms", style="dim")
        return text

    def _show_fields(self, pv: Preview, settings: DataSettingsValues) -> None:
        from ...engine.data.formats import FIELDS

        spec = pv.detection.spec
        if settings.template:
            self.query_one(DataSettings).show_fields("a text template: its last {placeholder} is the answer")
        elif spec is not None:
            self.query_one(DataSettings).show_fields(f"fields of {spec.name}: {', '.join(FIELDS[spec.name])}; "
                                                     f"columns: {', '.join(pv.columns) or '-'}")
        else:
            self.query_one(DataSettings).show_fields(f"columns: {', '.join(pv.columns) or '-'}")

    def _suggest_output(self, source: Source) -> None:
        from ...engine import paths

        settings = self.query_one(DataSettings)
        stem = (source.path.name if source.path else source.spec.replace("/", "-")).split(".")[0]
        suggestion = str(paths.home() / "datasets" / f"{stem}-prepared")
        if settings.output in ("", self._default_output):
            settings.set_output(suggestion)
        self._default_output = suggestion

    def on_data_failed(self, message: msg.DataFailed) -> None:
        message.stop()
        if message.gen != self.gen and message.part != "prepare":
            return
        text = error_text(message.message, message.hint)
        if message.part == "preview":
            self._status(text)
            self.source = self.preview = None  # nothing below may speak for a file that is not open
            self.query_one(DataPreview).empty()
            self.query_one(ValidationView).clear(Text("no report: the file could not be read", style="dim"))
            self.query_one(LossMaskView).show_message(Text("no rows", style="dim"))
            self.query_one(LengthHistogram).show_message(Text("no lengths", style="dim"))
            self._tab_label("tab-report", "Report")
        elif message.part == "validate":
            self.query_one(ValidationView).show_status(text)
            self._tab_label("tab-report", "Report ✗")
        elif message.part == "sample":
            self.query_one(LossMaskView).show_message(text)
        elif message.part == "stats":
            self.query_one(LengthHistogram).show_message(text)
        else:
            self.notify(str(text), title="Prepare", severity="error", timeout=10)

    # -- checks -------------------------------------------------------------------------------
    def _small(self) -> bool:
        """Whether the open file is small enough to tokenize every row of it unasked."""
        return self.source is not None and self.source.kind != "hub" and (self.source.size or 0) <= AUTO_MEASURE_BYTES

    def run_checks(self, settings: DataSettingsValues, *, tokenize: bool, validate: bool = True) -> None:
        """Check every row (with the tokenizer too when ``tokenize``), and measure lengths when ``tokenize``."""
        if self.source is None:
            return
        if validate:
            self.query_one(ValidationView).clear(Text("checking every row…", style="dim"))
            self._tab_label("tab-report", "Report …")
            with_tokenizer = tokenize and self.tokenizer_ok is True
            note = (f"lengths checked with {settings.model}'s tokenizer (max {settings.max_length} tokens)"
                    if with_tokenizer else "structure only: the model's tokenizer is not available (see Settings)"
                    if tokenize else "structure only: Check also tokenizes every row (too long, control tokens)")
            self.check_rows(self.gen, self.source, settings, settings.model if with_tokenizer else None, note)
        if tokenize:
            self.query_one(LengthHistogram).show_message(Text("measuring token lengths…", style="dim"))
            self.measure_lengths(self.gen, self.source, settings)
        else:
            size = human_bytes(self.source.size) if self.source.size else "a remote dataset"
            self.query_one(LengthHistogram).show_message(Text(
                f"{size}: press Check to measure token lengths (reads and tokenizes every row)", style="dim"))

    def _progress(self, gen: int, part: str) -> Callable[[str, float, float | None, str], None]:
        return lambda phase, done, total, unit: self.post_message(msg.DataProgress(gen, part, phase, done, total, unit))

    @work(thread=True, exclusive=True, group="data-validate", description="check every row", exit_on_error=False)
    def check_rows(self, gen: int, source: Source, settings: DataSettingsValues, model: str | None, note: str) -> None:
        from ...engine.data import validate

        try:
            if model:
                tokenizer_for(model, settings.chat_template)
            report = validate(source, format=settings.format, columns=settings.columns, roles=settings.roles,
                              template=settings.template, model=model, chat_template=settings.chat_template,
                              max_length=settings.max_length if model else None,
                              train_on=settings.train_on, on_progress=self._progress(gen, "validate"),
                              check_cancelled=cancel_check())
        except Cancelled:
            return
        except WorkbenchError as exc:
            self.post_message(msg.DataFailed(gen, "validate", exc.message, exc.hint))
            return
        self.post_message(msg.ValidationDone(gen, report, note))

    def on_validation_done(self, message: msg.ValidationDone) -> None:
        message.stop()
        if message.gen != self.gen:
            return
        report = message.report
        self.query_one(ValidationView).show_report(report, message.note)
        self._tab_label("tab-report", f"Report ✗ {report.errors}" if report.errors else
                        f"Report ! {report.warnings}" if report.warnings else "Report ✓")

    @work(thread=True, exclusive=True, group="data-stats", description="measure token lengths", exit_on_error=False)
    def measure_lengths(self, gen: int, source: Source, settings: DataSettingsValues) -> None:
        from ...config.loading import validate_recipe
        from ...engine.data import prepare_dataset

        ref = str(source.path.resolve()) if source.path else source.spec
        try:
            recipe = validate_recipe({"stage": "data.prepare", "source": ref, "output": "-", "split": source.split,
                                      **settings.recipe_fields()}, "Data settings")
            tokenizer_for(settings.model, settings.chat_template)
            result = prepare_dataset(recipe, write=False, on_progress=self._progress(gen, "stats"),
                                     check_cancelled=cancel_check())
        except Cancelled:
            return
        except WorkbenchError as exc:
            self.post_message(msg.DataFailed(gen, "stats", exc.message, exc.hint))
            return
        self.post_message(msg.StatsMeasured(gen, result))

    def on_stats_measured(self, message: msg.StatsMeasured) -> None:
        message.stop()
        if message.gen == self.gen:
            self.query_one(LengthHistogram).show_result(message.result)

    def on_data_progress(self, message: msg.DataProgress) -> None:
        message.stop()
        if message.gen != self.gen:
            return
        share = f" {message.done / message.total:.0%}" if message.total else ""
        text = Text(f"{'checking every row' if message.part == 'validate' else 'measuring'}… {message.phase}{share}",
                    style="dim")
        if message.part == "validate":
            self.query_one(ValidationView).show_status(text)
        else:
            self.query_one(LengthHistogram).show_message(text)

    # -- the rendered sample ------------------------------------------------------------------
    @on(DataPreview.RowChosen)
    def _row_chosen(self, message: DataPreview.RowChosen) -> None:
        message.stop()
        if self.preview is None or self._sample_key == (self.gen, message.row.row):
            return
        settings = self._settings()
        if settings is None:
            return
        self._sample_key = (self.gen, message.row.row)
        first = "" if self._rendered_once else " (the first one loads the tokenizer: a few seconds)"
        self.query_one(LossMaskView).show_message(Text(f"rendering {message.row.where}…{first}", style="dim"))
        self.render_row(self.gen, message.row, self.preview, settings)

    @work(thread=True, exclusive=True, group="data-sample", description="render a row with its loss mask", exit_on_error=False)
    def render_row(self, gen: int, row: PreviewRow, pv: Preview, settings: DataSettingsValues) -> None:
        from ...engine.data import Issue, render_sample
        from ...engine.data.issues import Loc

        raw = json.dumps(row.value, indent=2, ensure_ascii=False)[:4000] if row.value is not None else None
        if row.value is None or row.bad:
            self.post_message(msg.SampleRendered(gen, row.row, row.where, settings.train_on, None, list(row.issues), raw))
            return
        try:
            tokenizer = tokenizer_for(settings.model, settings.chat_template)
        except WorkbenchError as exc:
            self.post_message(msg.DataFailed(gen, "sample", exc.message, exc.hint))
            return
        if get_current_worker().is_cancelled:
            return  # another row was chosen while the tokenizer loaded
        try:
            sample = render_sample(row.value, tokenizer, spec=pv.detection.spec, template=settings.template,
                                   train_on=settings.train_on, loc=Loc(row.row, row.line), file=pv.source.spec)  # type: ignore[arg-type]
        except WorkbenchError as exc:
            issue = Issue(pv.source.spec, "render", exc.message, exc.hint, row.line, row.row)
            self.post_message(msg.SampleRendered(gen, row.row, row.where, settings.train_on, None,
                                                 list(row.issues) or [issue], raw))
            return
        self.post_message(msg.SampleRendered(gen, row.row, row.where, settings.train_on, sample, list(row.issues)))

    def on_sample_rendered(self, message: msg.SampleRendered) -> None:
        message.stop()
        if message.gen != self.gen:
            return
        view = self.query_one(LossMaskView)
        self._rendered_once = True
        if message.sample is None:
            view.show_problem(message.where, message.issues, message.raw)
        else:
            view.show_sample(message.where, message.sample, message.train_on)

    @on(ValidationView.IssueChosen)
    def _issue_chosen(self, message: ValidationView.IssueChosen) -> None:
        message.stop()
        issue = message.issue
        if issue.row is None:
            self.notify(f"{issue.headline}: this is about the whole file, not one row", title="Report")
            return
        self.query_one(TabbedContent).active = "tab-sample"
        if not self.query_one(DataPreview).show_row(issue.row):
            settings = self._settings()
            if settings is not None and self.source is not None:
                self.read_preview(self.gen, self.source, settings, issue.row)

    # -- settings -----------------------------------------------------------------------------
    @on(DataSettings.Changed)
    def _settings_changed(self, message: DataSettings.Changed) -> None:
        message.stop()
        settings = self._settings()
        if settings is None:
            return
        if message.scope == "tokens":
            self.check_tokenizer(settings.model)
        if self.source is None:
            return
        if message.scope == "format":
            self.open(self._spec, settings)
        elif message.scope == "tokens":
            self.gen += 1
            self._sample_key = None
            self.run_checks(settings, tokenize=self._small())
            self._rerender()
        elif self._small():  # cleaning and the split change only the lengths and what is dropped
            self.gen += 1
            self.run_checks(settings, tokenize=True, validate=False)

    def _rerender(self) -> None:
        table = self.query_one(DataPreview)
        if table.rows_shown:
            table.show_row(table.rows_shown[max(0, table.cursor_row)].row)

    @on(Button.Pressed, "#data-check")
    def _check_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        settings = self._settings()
        if settings is None:
            return
        if self.source is None:
            picker = self.query_one(SourcePicker)
            if picker.value:
                self.open(picker.value, settings)
            else:
                self.notify("open a dataset first: type its path above", severity="warning")
            return
        self.check_tokenizer(settings.model, prepare=True)
        self.open(self._spec, settings)
        self._measure_gen = self.gen  # Check measures token lengths whatever the file's size

    @work(thread=True, exclusive=True, group="data-tokenizer", description="find the model's tokenizer", exit_on_error=False)
    def check_tokenizer(self, model: str, prepare: bool = False) -> None:
        """Whether ``model``'s tokenizer is there. A job preparing the built-in model is waited for
        (its progress in the model status); with ``prepare`` one is started when it is missing."""
        from ...engine.data.tokenizer import tokenizer_folder
        from ...engine.errors import Cancelled
        from ...engine.first_use import ensure_prepared

        worker = get_current_worker()
        try:
            ensure_prepared(model or None, start=prepare, run_store=self.run_store, keep_waiting=lambda: not worker.is_cancelled,
                            on_progress=lambda text: self.post_message(msg.TokenizerChecked(model, False, text)))
            folder = tokenizer_folder(model)
        except Cancelled:
            return
        except WorkbenchError as exc:
            text = f"{exc.message}" + (f"; {exc.hint}" if exc.hint else "")
            if "not prepared" in exc.message:
                text = f"{model} is not prepared: {exc.hint or 'prepare it first'}"
                if model == DEFAULT_MODEL:
                    text += " (done for you when you open a dataset), or ctrl+p › Prepare the built-in model"
            self.post_message(msg.TokenizerChecked(model, False, text))
            return
        self.post_message(msg.TokenizerChecked(model, True, "tokenizer found" + (f" in {folder}" if folder.name != model else "")))

    def _preload(self, model: str) -> None:
        if model != self._preloaded:
            self._preloaded = model
            self.preload_tokenizer(model)

    @work(thread=True, exclusive=True, group="data-tokenizer-load", description="load the model's tokenizer",
          exit_on_error=False)
    def preload_tokenizer(self, model: str) -> None:
        """Load the tokenizer (and ``transformers``) while the user is still typing a path: the
        import takes seconds, and the first sample should not wait for it."""
        try:
            tokenizer_for(model)
        except WorkbenchError:
            pass  # the model status already says what is wrong; the sample will say it again

    def on_tokenizer_checked(self, message: msg.TokenizerChecked) -> None:
        message.stop()
        if self.query_one(DataSettings).model != message.model:
            return  # the model was changed again since
        changed = (self.tokenizer_ok is True) != message.ok
        self.tokenizer_ok = message.ok
        self.query_one(DataSettings).show_model_status(message.ok, message.text)
        if message.ok and self._shown:
            self._preload(message.model)
        settings = self._settings()
        if changed and self.source is not None and settings is not None:
            self.gen += 1
            self._sample_key = None
            self.run_checks(settings, tokenize=self._small())
            self._rerender()

    # -- prepare ------------------------------------------------------------------------------
    @on(Button.Pressed, "#data-prepare")
    def _prepare_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        settings = self._settings()
        if settings is None:
            return
        if self.source is None:
            self.notify("open a dataset first: type its path above", title="Prepare", severity="warning")
            return
        if not settings.output:
            self.notify("choose an output folder in Settings", title="Prepare", severity="warning")
            return
        self.start_prepare(self.source, settings)

    @work(thread=True, exclusive=True, group="data-prepare", description="start the prepare job", exit_on_error=False)
    def start_prepare(self, source: Source, settings: DataSettingsValues) -> None:
        from ...config.loading import validate_recipe
        from ...engine.data.tokenizer import tokenizer_folder

        output = Path(settings.output).expanduser().resolve()
        model = settings.model
        if Path(model).expanduser().exists():
            model = str(Path(model).expanduser().resolve())
        try:
            tokenizer_folder(model)  # fail here, not in the job, when the model is not prepared
            if output.exists() and (not output.is_dir() or any(output.iterdir())) and not settings.overwrite:
                raise WorkbenchError(f"{output} already exists and is not empty",
                                     hint="choose another output folder, or tick overwrite")
            recipe = validate_recipe({
                "stage": "data.prepare", "source": str(source.path.resolve()) if source.path else source.spec,
                "output": str(output), "split": source.split, **settings.recipe_fields(), "model": model,
            }, "Data settings")
        except WorkbenchError as exc:
            self.post_message(msg.DataFailed(self.gen, "prepare", exc.message, exc.hint))
            return
        name = source.path.name if source.path else source.spec
        self.post_message(StartJob(recipe, f"prepare data {name}"))  # the workbench starts it and shows it in Runs
        self.post_message(msg.PrepareRequested(str(output)))

    def on_prepare_requested(self, message: msg.PrepareRequested) -> None:
        message.stop()
        self._status(Text(f"prepare job starting: it writes {message.output} (follow it in Runs, key 3)", style="green"))
