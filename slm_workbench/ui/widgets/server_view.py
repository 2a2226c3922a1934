"""A served model as the Deploy pane shows it: where it listens, and each request it answered.

The pane's poll thread reads the run's ``server.json`` and the new lines of its
``requests.jsonl`` (``engine/serve/run_files.py``) and hands them here; this widget only
draws. The request log is bounded (``MAX_REQUESTS`` rows, oldest dropped), appended to
rather than redrawn, and follows the newest row unless the user scrolled up.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ...engine.events import CorruptLine
from ..format import STATE_STYLES

MAX_REQUESTS = 500
COLUMNS = ("time", "method", "path", "model", "tokens", "seconds", "status", "error")


def server_line(state: str, alive: bool, server: dict[str, Any] | None, activity: str = "") -> Text:
    """``● serving tiny at http://127.0.0.1:8000/v1 · pid 4242 · s stops it``, or what it is doing instead."""
    text = Text()
    models = ", ".join(server.get("models", [])) if server else ""
    if alive and server:
        text.append("● serving ", style="bold green")
        text.append(models, style="bold")
        text.append(" at ")
        text.append(str(server.get("url", "?")), style="bold underline")
        text.append(f" · pid {server.get('pid')} · s stops it", style="dim")
    elif alive:
        text.append("◌ starting", style="bold yellow")
        text.append(f" · {activity}" if activity else " · loading the models")
        text.append("  · s stops it", style="dim")
    else:
        text.append(f"○ {state}", style=STATE_STYLES.get(state, "bold"))
        if server:
            text.append(f" · was serving {models} at {server.get('url', '?')}", style="dim")
    return text


def request_cells(record: dict[str, Any] | CorruptLine) -> tuple[Text | str, ...]:
    """One request's row: when, method, path, model, prompt+answer tokens, seconds, status, error."""
    if isinstance(record, CorruptLine):
        return ("", "", "", "", "", "", Text("corrupt", style="red"), Text(record.summary(), style="red"))
    status = record.get("status")
    style = "green" if isinstance(status, int) and status < 400 else "yellow" if isinstance(status, int) and status < 500 else "red"
    when = record.get("time")
    tokens = (f"{record.get('prompt_tokens', 0)}+{record['completion_tokens']}" if "completion_tokens" in record
              else str(record["prompt_tokens"]) if "prompt_tokens" in record else "—")
    seconds = record.get("seconds")
    return (time.strftime("%H:%M:%S", time.localtime(when)) if isinstance(when, (int, float)) else "—",
            str(record.get("method", "")), str(record.get("path", "")), str(record.get("model") or "—"), tokens,
            f"{seconds:.2f}" if isinstance(seconds, (int, float)) else "—", Text(str(status or "—"), style=style),
            str(record.get("error") or ""))


class ServerView(Vertical):
    DEFAULT_CSS = """
    ServerView { height: 1fr; }
    ServerView #srv-line { height: auto; }
    ServerView #srv-requests { height: 1fr; min-height: 4; border: round $panel; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._keys: deque[Any] = deque()
        self.requests_shown = 0
        """Requests added since the last ``clear`` (those dropped off the top included)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="srv-line")
        table = DataTable(id="srv-requests", zebra_stripes=True, cursor_type="row")
        table.border_title = "Requests"
        yield table

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)

    def show_server(self, state: str, alive: bool, server: dict[str, Any] | None, activity: str = "") -> None:
        self.query_one("#srv-line", Static).update(server_line(state, alive, server, activity))

    def clear(self) -> None:
        self.query_one(DataTable).clear()
        self._keys.clear()
        self.requests_shown = 0

    def add_requests(self, records: list[dict[str, Any] | CorruptLine]) -> None:
        if not records:
            return
        table = self.query_one(DataTable)
        following = table.scroll_y >= table.max_scroll_y
        for record in records[-MAX_REQUESTS:]:
            self._keys.append(table.add_row(*request_cells(record)))
        while len(self._keys) > MAX_REQUESTS:
            table.remove_row(self._keys.popleft())
        self.requests_shown += len(records)
        table.border_subtitle = f"{self.requests_shown} requests"
        if following:
            table.call_after_refresh(table.scroll_end, animate=False)
