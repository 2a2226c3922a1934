"""The Chat pane: stream answers from one model, or from several side by side.

Local models load and generate in a child process each (``open_backend(isolate=True)``:
ONNX Runtime GenAI holds the GIL per token), driven from thread workers; text reaches the
screen as ``TokensArrived`` messages batched every ~100 ms (ten redraws a second read as
streaming and leave the CPU to the model and the keyboard: bench/chat.py), so typing stays
responsive while models stream. ctrl+f stops generation between two tokens (from the prompt too;
escape leaves a field, as in every pane, so the pane keys work). Each column keeps its own
conversation (``ChatSession``), saved to the workspace history as it goes.

A column over an ONNX adapter base (``MODEL:lora-fp32``, or ``BASE+RUN`` with an adapter
picked) gets an adapter picker listing the LoRA runs trained on that base's model: each
answer uses the adapter picked when it was asked, over the one base loaded once.
"""

from __future__ import annotations

import shlex
import threading
import time

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input

from ...engine import paths
from ...engine.chat.conversation import ChatSession
from ...engine.chat.history import ChatStore, Conversation
from ...engine.chat.session import Batcher, format_stats
from ...engine.chat.types import ChatBackend, GenParams, Message
from ...engine.errors import WorkbenchError
from .. import chat_messages as msg
from ..pane_context import PaneContext
from ..widgets.chat_column import ChatColumn
from ..widgets.chat_columns import ChatColumns
from ..widgets.chat_params import ChatParams
from .chat_modals import ChatDiffScreen, ChatHistoryScreen, ChatTemplateScreen

FLUSH_S = 0.1


class ChatPane(Vertical):
    BINDINGS = [
        Binding("ctrl+f", "stop", "Stop"),
        Binding("ctrl+n", "new_chat", "New chat"),
        Binding("ctrl+g", "diff", "Diff"),
        Binding("ctrl+o", "history", "History"),
        Binding("ctrl+s", "export", "Export dataset"),
        Binding("ctrl+t", "templates", "Templates"),
    ]
    DEFAULT_CSS = """
    ChatPane { height: 1fr; padding: 0 1; }
    ChatPane #chat-top, ChatPane #chat-bottom { height: 1; }
    ChatPane #chat-models, ChatPane #chat-prompt { width: 1fr; }
    ChatPane Button { margin-left: 1; min-width: 8; }
    """
    isolate = True
    """Local models load and generate in a child process (see engine/chat/isolated.py)."""

    def __init__(self, context: PaneContext | None = None, store: ChatStore | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.store = store or ChatStore()
        self.specs: list[str] = []
        self.backends: list[ChatBackend | None] = []
        self.session: ChatSession | None = None
        self.models_loading = False  # not ``loading``: that is Widget's loading-indicator reactive
        self.generating = False
        self._load_id = 0
        self._stop = threading.Event()
        self._pending: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="chat-top"):
            yield Input(placeholder="model, MODEL:VARIANT, run id or http://… (several: side by side)", id="chat-models", compact=True)
            yield Button("Load", id="chat-load", compact=True)
        yield ChatParams(id="chat-params")
        yield ChatColumns(id="chat-columns")
        with Horizontal(id="chat-bottom"):
            yield Input(placeholder="message (enter sends; ctrl+f stops; escape leaves the field)", id="chat-prompt",
                        compact=True)
            yield Button("Send", id="chat-send", variant="primary", compact=True)

    def field_to_type(self) -> Input | None:
        """Where ``/`` puts the cursor: the prompt once models are loaded, else the models field."""
        found = self.query("#chat-prompt" if self.specs else "#chat-models")
        return found.first(Input) if found else None

    @property
    def board(self) -> ChatColumns:
        return self.query_one(ChatColumns)

    def columns(self) -> list:
        return self.board.columns()

    @property
    def conversation(self) -> Conversation | None:
        return self.session.conversation if self.session else None

    # -- loading ----------------------------------------------------------------------------
    @on(Input.Submitted, "#chat-models")
    @on(Button.Pressed, "#chat-load")
    def _load_pressed(self) -> None:
        self.load_models(self.query_one("#chat-models", Input).value)

    def load_models(self, text: str) -> None:
        try:
            specs = shlex.split(text)
        except ValueError as exc:
            self.notify(f"cannot read the model list: {exc}", severity="error")
            return
        if not specs:
            self.notify("type a model first, e.g. smollm2-135m-instruct (two or more: side by side)", severity="warning")
            return
        self._stop.set()
        if self.session is None or self.session.models != specs:
            self.session = None
            self.board.show(specs)
        old = [b for b in self.backends if b is not None]
        self.specs, self.backends, self.models_loading = specs, [None] * len(specs), True
        self._load_id += 1
        self._update_buttons()
        self._load(self._load_id, specs, old)

    @work(thread=True, exclusive=True, group="chat-load", description="load chat models", exit_on_error=False)
    def _load(self, load_id: int, specs: list[str], old: list[ChatBackend]) -> None:
        from ...engine.chat.registry import open_backend  # the engine opens models here, in the worker
        from ...engine.errors import Cancelled
        from ...engine.first_use import ensure_prepared

        for backend in old:
            backend.close()
        for i, spec in enumerate(specs):
            self.post_message(msg.ColumnStatus(load_id, i, f"loading {spec}…"))
            try:
                # The built-in model on first use: a models.prepare job (also in Runs), then the load.
                ensure_prepared(spec, on_progress=lambda text, i=i: self.post_message(msg.ColumnStatus(load_id, i, text)),
                                keep_waiting=lambda: load_id == self._load_id, run_store=self.app.run_store)
                backend = open_backend(spec, isolate=self.isolate,
                                       on_status=lambda text, i=i: self.post_message(msg.ColumnStatus(load_id, i, text)))
            except Cancelled:
                return  # a newer load replaced this one; the preparation goes on
            except WorkbenchError as exc:
                self.post_message(msg.ColumnStatus(load_id, i, str(exc), failed=True))
                continue
            except Exception as exc:  # noqa: BLE001 - one model failing leaves the others usable
                self.post_message(msg.ColumnStatus(load_id, i, f"{type(exc).__name__}: {exc}", failed=True))
                continue
            self.post_message(msg.ModelLoaded(load_id, i, backend, backend.template()))
            self._find_adapters(load_id, i, spec, backend)
        self.post_message(msg.LoadingDone(load_id))

    def _find_adapters(self, load_id: int, index: int, spec: str, backend: ChatBackend) -> None:
        """In the load worker: the adapters a loaded adapter base can switch to (runs over its model)."""
        from ...engine.adapters.base import read_lora_base
        from ...engine.adapters.lora import adapter_choices, split_adapter_model

        folder = getattr(backend, "folder", None)
        if backend.kind == "onnx" and folder is not None and read_lora_base(folder) is not None:
            choices = adapter_choices(folder, self.app.run_store)
            self.post_message(msg.AdaptersFound(load_id, index, choices, split_adapter_model(spec)[1]))

    def on_adapters_found(self, message: msg.AdaptersFound) -> None:
        message.stop()
        if message.load_id == self._load_id and message.index < len(self.columns()):
            self.board[message.index].show_adapters(message.choices, message.current)

    def on_chat_column_adapter_picked(self, message: ChatColumn.AdapterPicked) -> None:
        message.stop()
        name = message.adapter or "none (the base alone)"
        message.column.set_state(f"ready · onnx · adapter {name} from the next answer", ready=True)

    def on_column_status(self, message: msg.ColumnStatus) -> None:
        message.stop()
        if message.load_id == self._load_id and message.index < len(self.columns()):
            self.board[message.index].set_state(message.text, failed=message.failed)

    def on_model_loaded(self, message: msg.ModelLoaded) -> None:
        message.stop()
        if message.load_id != self._load_id:
            message.backend.close()  # a newer load replaced it while it was loading
            return
        self.backends[message.index] = message.backend
        column = self.board[message.index]
        column.set_state(f"ready · {message.backend.kind}", ready=True)
        column.set_template(message.template)

    def on_loading_done(self, message: msg.LoadingDone) -> None:
        message.stop()
        if message.load_id != self._load_id:
            return
        self.models_loading = False
        self._update_buttons()
        if self.app.focused is self.query_one("#chat-models", Input):
            self.query_one("#chat-prompt", Input).focus()
        if self._pending is not None:
            prompt, self._pending = self._pending, None
            self.send(prompt)

    # -- generating -------------------------------------------------------------------------
    @on(Input.Submitted, "#chat-prompt")
    @on(Button.Pressed, "#chat-send")
    def _send_pressed(self) -> None:
        prompt = self.query_one("#chat-prompt", Input)
        if prompt.value.strip() and self.send(prompt.value.strip()):
            prompt.value = ""

    def send(self, text: str) -> bool:
        """Ask every loaded column (loading the models first if needed); True when taken."""
        if self.generating:
            self.notify("still answering: ctrl+f stops it", severity="warning")
            return False
        try:
            params = self.query_one(ChatParams).params()
        except ValueError as exc:
            self.notify(str(exc), title="Parameters", severity="error")
            return False
        models = self.query_one("#chat-models", Input).value
        if not self.models_loading and (not self.specs or shlex.split(models or "") not in ([], self.specs)):
            self.load_models(models)
        if self.models_loading:
            self._pending = text
            return True
        active = {i: b for i, b in enumerate(self.backends) if b is not None}
        if not active:
            self.notify("no model loaded: fix the model names and press Load", severity="error")
            return False
        for i in active:
            self.board[i].add_message(Message(role="user", content=text))
        self.session = self.session or ChatSession(self.store, self.specs)
        self.generating, self._stop = True, threading.Event()
        self._update_buttons()
        adapters = {i: a for i in active if (a := self.board[i].adapter) is not None}
        self._generate(self.session, active, text, params, self._stop, adapters)
        return True

    @work(thread=True, exclusive=True, group="chat-generate", description="generate answers", exit_on_error=False)
    def _generate(self, session: ChatSession, active: dict[int, ChatBackend], text: str, params: GenParams,
                  stop: threading.Event, adapters: dict[int, str] | None = None) -> None:
        batchers = {i: Batcher(lambda t, i=i: self.post_message(msg.TokensArrived(i, t)), FLUSH_S) for i in active}

        def done(i: int, reply) -> None:
            batchers[i].flush()
            self.post_message(msg.ReplyFinished(i, reply))

        try:
            session.ask(active, text, params, stop=stop, adapters=adapters,
                        on_start=lambda i: self.post_message(msg.ReplyStarted(i)),
                        on_text=lambda i, t: batchers[i].add(t), on_done=done)
        finally:
            self.post_message(msg.GenerationDone())

    def on_reply_started(self, message: msg.ReplyStarted) -> None:
        message.stop()
        self.board[message.index].start_reply()

    def on_tokens_arrived(self, message: msg.TokensArrived) -> None:
        message.stop()
        self.board[message.index].append_reply(message.text)

    def on_reply_finished(self, message: msg.ReplyFinished) -> None:
        message.stop()
        self.board[message.index].finish_reply(format_stats(message.reply))

    def on_generation_done(self, message: msg.GenerationDone) -> None:
        message.stop()
        self.generating = False
        self._update_buttons()

    def action_stop(self) -> None:
        self._stop.set()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":  # in the footer while an answer streams
            return self.generating
        return True

    def _update_buttons(self) -> None:
        self.refresh_bindings()
        self.query_one("#chat-send", Button).disabled = self.generating
        self.query_one("#chat-load", Button).disabled = self.models_loading

    # -- history, diff, templates -----------------------------------------------------------
    def action_new_chat(self) -> None:
        if self.generating:
            self.notify("still answering: ctrl+f stops it", severity="warning")
            return
        self.session = None
        self.board.clear()

    def open_conversation(self, conv: Conversation) -> None:
        """Show a saved conversation; its models load when Load is pressed or a message is sent."""
        self._stop.set()
        self.query_one("#chat-models", Input).value = " ".join(shlex.quote(m) for m in conv.models)
        self.query_one(ChatParams).show(conv.params)
        self.board.show(conv.models)
        self.call_after_refresh(self.board.fill, conv)
        self.session, self.specs = ChatSession(self.store, conv.models, conv), []  # loaded on Load or send

    def action_history(self) -> None:
        def reopen(conv_id: str | None) -> None:
            if conv_id:
                self.open_conversation(self.store.load(conv_id))

        self.app.push_screen(ChatHistoryScreen(self.store.list()), reopen)

    def action_export(self) -> None:
        out = paths.home() / "datasets" / f"chat-history-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
        rows = self.store.export_dataset(out)
        self.notify(f"{rows} conversation(s) written to {out} (messages format: open it in the Data pane)",
                    title="Export", timeout=10)

    def action_diff(self) -> None:
        answers = self.board.answers()
        if len(answers) < 2:
            self.notify("the diff needs two answers: load two models or more (side by side) and send a prompt")
            return
        self.app.push_screen(ChatDiffScreen(answers))

    def action_templates(self) -> None:
        self.app.push_screen(ChatTemplateScreen(self.board.templates()))
