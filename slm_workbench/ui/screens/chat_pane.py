"""The Chat pane: stream answers from one model, or from several side by side.

Models load and generate in thread workers (the engine's ``open_backend`` and
``answer_all``); text reaches the screen as ``TokensArrived`` messages batched every
~30 ms, so typing stays responsive while a model streams. Escape stops generation (an
event the backend checks between tokens). Each column keeps its own conversation; the
whole chat is saved to the workspace history as it goes.
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
from ...engine.errors import WorkbenchError
from ...engine.chat.compare import answer_all
from ...engine.chat.history import ChatStore, Conversation
from ...engine.chat.session import Batcher, format_stats
from ...engine.chat.types import ChatBackend, GenParams, Message, Reply
from .. import chat_messages as msg
from ..widgets.chat_column import ChatColumn
from ..widgets.chat_params import ChatParams
from .chat_modals import ChatDiffScreen, ChatHistoryScreen, ChatTemplateScreen

FLUSH_S = 0.05


def stats_text(stats: dict) -> str:
    keys = ("ttft_s", "tok_s", "tokens", "stopped", "error")
    return format_stats(Reply(model="", **{k: v for k, v in stats.items() if k in keys and v is not None}))


class ChatPane(Vertical):
    BINDINGS = [
        Binding("escape", "stop", "Stop"),
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
    ChatPane #chat-columns { height: 1fr; }
    ChatPane Button { margin-left: 1; min-width: 8; }
    """

    isolate = True
    """Local models load and generate in a child process (see engine/chat/isolated.py)."""

    def __init__(self, store: ChatStore | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.store = store or ChatStore()
        self.specs: list[str] = []
        self.backends: list[ChatBackend | None] = []
        self.conversation: Conversation | None = None
        self.models_loading = False
        self.generating = False
        self._load_id = 0
        self._stop = threading.Event()
        self._pending: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="chat-top"):
            yield Input(placeholder="model, MODEL:VARIANT, run id or http://… (several: side by side)", id="chat-models", compact=True)
            yield Button("Load", id="chat-load", compact=True)
        yield ChatParams(id="chat-params")
        yield Horizontal(id="chat-columns")
        with Horizontal(id="chat-bottom"):
            yield Input(placeholder="message (enter sends; escape stops)", id="chat-prompt", compact=True)
            yield Button("Send", id="chat-send", variant="primary", compact=True)
            yield Button("Stop", id="chat-stop", variant="warning", compact=True, disabled=True)

    def on_show(self) -> None:
        if not self.has_focus_within:
            self.query_one("#chat-prompt" if self.specs else "#chat-models", Input).focus()

    def columns(self) -> list[ChatColumn]:
        return list(self.query(ChatColumn))

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
        keep = self.conversation is not None and self.conversation.models == specs
        if not keep:
            self.conversation = None
            self._show_columns(specs)
        old = [b for b in self.backends if b is not None]
        self.specs, self.backends, self.models_loading = specs, [None] * len(specs), True
        self._load_id += 1
        self._update_buttons()
        self._load(self._load_id, specs, old)

    def _show_columns(self, specs: list[str]) -> None:
        holder = self.query_one("#chat-columns", Horizontal)
        holder.remove_children()
        holder.mount_all([ChatColumn(spec) for spec in specs])

    @work(thread=True, exclusive=True, group="chat-load", description="load chat models", exit_on_error=False)
    def _load(self, load_id: int, specs: list[str], old: list[ChatBackend]) -> None:
        from ...engine.chat.registry import open_backend  # the ML stack loads here, in the worker

        for backend in old:
            backend.close()
        for i, spec in enumerate(specs):
            self.post_message(msg.ColumnStatus(load_id, i, f"loading {spec}…"))
            try:
                backend = open_backend(spec, isolate=self.isolate,
                                       on_status=lambda text, i=i: self.post_message(msg.ColumnStatus(load_id, i, text)))
            except WorkbenchError as exc:
                self.post_message(msg.ColumnStatus(load_id, i, str(exc), failed=True))
                continue
            except Exception as exc:  # noqa: BLE001 - one model failing leaves the others usable
                self.post_message(msg.ColumnStatus(load_id, i, f"{type(exc).__name__}: {exc}", failed=True))
                continue
            self.post_message(msg.ModelLoaded(load_id, i, backend, backend.template()))
        self.post_message(msg.LoadingDone(load_id))

    def on_column_status(self, message: msg.ColumnStatus) -> None:
        message.stop()
        columns = self.columns()
        if message.load_id == self._load_id and message.index < len(columns):
            columns[message.index].set_state(message.text, failed=message.failed)

    def on_model_loaded(self, message: msg.ModelLoaded) -> None:
        message.stop()
        if message.load_id != self._load_id:
            message.backend.close()  # a newer load replaced it while it was loading
            return
        self.backends[message.index] = message.backend
        column = self.columns()[message.index]
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
        """Ask every loaded column; True when the prompt was taken."""
        if self.generating:
            self.notify("still answering: escape stops it", severity="warning")
            return False
        try:
            params = self.query_one(ChatParams).params()
        except ValueError as exc:
            self.notify(str(exc), title="Parameters", severity="error")
            return False
        wanted = shlex.split(self.query_one("#chat-models", Input).value or "")
        if not self.specs or (wanted and wanted != self.specs and not self.models_loading):
            self._pending = text
            self.load_models(self.query_one("#chat-models", Input).value)
            return bool(self.specs)
        if self.models_loading:
            self._pending = text
            return True
        active = [i for i, b in enumerate(self.backends) if b is not None]
        if not active:
            self.notify("no model loaded: fix the model names and press Load", severity="error")
            return False
        for i in active:
            self.columns()[i].add_message(Message(role="user", content=text))
        self.generating = True
        self._stop = threading.Event()
        self._update_buttons()
        self._generate(text, params, active)
        return True

    @work(thread=True, exclusive=True, group="chat-generate", description="generate answers", exit_on_error=False)
    def _generate(self, text: str, params: GenParams, active: list[int]) -> None:
        try:
            conv = self.conversation
            if conv is None:
                conv = self.store.create(self.specs, params.as_dict())
                self.post_message(msg.ConversationStarted(conv))
            system = [Message(role="system", content=params.system_prompt)] if params.system_prompt else []
            user = Message(role="user", content=text)
            histories = [list(conv.columns[i] or system) + [user] for i in active]
            batchers = [Batcher(lambda t, i=i: self.post_message(msg.TokensArrived(i, t)), FLUSH_S) for i in active]

            def done(k: int, reply: Reply) -> None:
                i = active[k]
                batchers[k].flush()
                if reply.error is None:
                    for message in histories[k][len(conv.columns[i]):]:
                        self.store.append(conv, i, message)
                    self.store.append(conv, i, Message(role="assistant", content=reply.text), reply.stats())
                self.post_message(msg.ReplyFinished(i, reply))

            answer_all([self.backends[i] for i in active], histories, params, stop=self._stop,  # type: ignore[misc]
                       on_start=lambda k: self.post_message(msg.ReplyStarted(active[k])),
                       on_text=lambda k, t: batchers[k].add(t), on_done=done)
        finally:
            self.post_message(msg.GenerationDone())

    def on_conversation_started(self, message: msg.ConversationStarted) -> None:
        message.stop()
        self.conversation = message.conversation

    def on_reply_started(self, message: msg.ReplyStarted) -> None:
        message.stop()
        self.columns()[message.index].start_reply()

    def on_tokens_arrived(self, message: msg.TokensArrived) -> None:
        message.stop()
        self.columns()[message.index].append_reply(message.text)

    def on_reply_finished(self, message: msg.ReplyFinished) -> None:
        message.stop()
        self.columns()[message.index].finish_reply(format_stats(message.reply))

    def on_generation_done(self, message: msg.GenerationDone) -> None:
        message.stop()
        self.generating = False
        self._update_buttons()

    @on(Button.Pressed, "#chat-stop")
    def action_stop(self) -> None:
        self._stop.set()

    def _update_buttons(self) -> None:
        self.query_one("#chat-stop", Button).disabled = not self.generating
        self.query_one("#chat-send", Button).disabled = self.generating
        self.query_one("#chat-load", Button).disabled = self.models_loading

    # -- history, diff, templates -----------------------------------------------------------
    def action_new_chat(self) -> None:
        if self.generating:
            self.notify("still answering: escape stops it", severity="warning")
            return
        self.conversation = None
        for column in self.columns():
            column.clear()

    def open_conversation(self, conv: Conversation) -> None:
        """Show a saved conversation; its models load when Load is pressed or a message is sent."""
        self._stop.set()
        self.query_one("#chat-models", Input).value = " ".join(shlex.quote(m) for m in conv.models)
        self.query_one(ChatParams).show(conv.params)
        self._show_columns(conv.models)
        self.call_after_refresh(self._fill_columns, conv)

    def _fill_columns(self, conv: Conversation) -> None:
        for column, messages, stats in zip(self.columns(), conv.columns, conv.stats):
            answers = iter(stats)
            for message in messages:
                figures = next(answers, None) if message["role"] == "assistant" else None
                column.add_message(message, stats_text(figures) if figures else None)
        self.conversation, self.specs = conv, []  # the models load (and the old ones close) on Load or send

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
        answers = [(c.spec, c.reply_text) for c in self.columns() if c.reply_text]
        if len(answers) < 2:
            self.notify("the diff needs two answers: load two models or more (side by side) and send a prompt")
            return
        self.app.push_screen(ChatDiffScreen(answers))

    def action_templates(self) -> None:
        self.app.push_screen(ChatTemplateScreen([(c.spec, c.template) for c in self.columns()]))
