"""Where the data comes from: a path input that completes paths, and a folder tree to pick from.

The tree is built on the first press of Browse (listing folders costs nothing until then)
and shows only folders and files the dataset engine reads. Choosing a file, or a folder
written by ``datasets``' ``save_to_disk``, posts ``SourcePicker.Chosen``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Button, DirectoryTree, Input

DATA_SUFFIXES = (".jsonl", ".ndjson", ".jsonlines", ".json", ".csv", ".tsv", ".tab", ".parquet", ".pq", ".gz")
HF_MARKERS = ("dataset_dict.json", "state.json")


class PathSuggester(Suggester):
    """Completes the last part of a path from the folder it is in (folders end with ``/``)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value or value.startswith("slmw:") or ("/" not in value and not value.startswith(("~", "."))):
            return None
        head, _, stem = value.rpartition("/")
        folder = Path(os.path.expanduser(head or "/")) if "/" in value else Path(".")
        try:
            names = sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(folder)
                           if e.name.startswith(stem) and (stem.startswith(".") or not e.name.startswith(".")))
        except OSError:
            return None
        if not names:
            return None
        return (head + "/" if "/" in value else "") + names[0]


class DataTree(DirectoryTree):
    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".")
                and (p.is_dir() or p.name.lower().endswith(DATA_SUFFIXES))]


class SourcePicker(Vertical):
    DEFAULT_CSS = """
    SourcePicker { height: auto; }
    SourcePicker #source-row { height: 1; }
    SourcePicker #source-path { width: 1fr; }
    SourcePicker Button { margin-left: 1; min-width: 9; }
    SourcePicker DataTree { height: 12; border: round $primary; }
    """

    @dataclass
    class Chosen(Message):
        """The user asked to open ``spec`` (a path, a hub id or ``slmw:demo``)."""

        spec: str

    def __init__(self, root: Path | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self._root = root

    def compose(self) -> ComposeResult:
        with Horizontal(id="source-row"):
            yield Input(placeholder="a .jsonl/.json/.csv/.parquet file, a save_to_disk folder, owner/name or slmw:demo "
                        "(enter opens; → completes)", id="source-path", suggester=PathSuggester(), compact=True)
            yield Button("Browse", id="source-browse", compact=True)
            yield Button("Open", id="source-open", variant="primary", compact=True)

    @property
    def value(self) -> str:
        return self.query_one("#source-path", Input).value.strip()

    def focus_input(self) -> None:
        self.query_one("#source-path", Input).focus()

    @on(Input.Submitted, "#source-path")
    @on(Button.Pressed, "#source-open")
    def _open(self, event: Input.Submitted | Button.Pressed) -> None:
        event.stop()
        if not self.value:
            self.notify("type a path first (or press Browse, or try slmw:demo)", severity="warning")
            return
        self.post_message(self.Chosen(self.value))

    @on(Button.Pressed, "#source-browse")
    def toggle_tree(self, event: Button.Pressed | None = None) -> None:
        if event is not None:
            event.stop()
        trees = self.query(DataTree)
        if trees:
            tree = trees.first()
            tree.display = not tree.display
            if tree.display:
                tree.focus()
            return
        typed = Path(os.path.expanduser(self.value)) if self.value else None
        root = typed if typed and typed.is_dir() else typed.parent if typed and typed.parent.is_dir() else (self._root or Path.cwd())
        tree = DataTree(root, id="source-tree")
        tree.border_title = f"{root}  (enter: open; Browse again: hide)"
        self.mount(tree)
        tree.focus()

    @on(DirectoryTree.FileSelected)
    def _file_chosen(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self._choose(event.path)

    @on(DirectoryTree.DirectorySelected)
    def _folder_chosen(self, event: DirectoryTree.DirectorySelected) -> None:
        event.stop()
        if any((event.path / marker).is_file() for marker in HF_MARKERS):
            self._choose(event.path)

    def _choose(self, path: Path) -> None:
        self.query_one("#source-path", Input).value = str(path)
        self.query_one(DataTree).display = False
        self.focus_input()
        self.post_message(self.Chosen(str(path)))
