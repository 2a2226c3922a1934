"""Incremental readers for files a job appends to.

Views never re-read a whole file on each refresh: a ``FileTail`` remembers its byte offset,
reads only what was appended since, and holds back a trailing partial line until the writer
finishes it. A file that shrinks or is replaced (new inode) is read again from the start.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_READ = 8 * 1024 * 1024  # bytes read per call; the rest arrives on the next call


class FileTail(Generic[T]):
    def __init__(self, path: Path, decode: Callable[[str, int], T]) -> None:
        self.path = Path(path)
        self._decode = decode
        self._offset = 0
        self._inode: int | None = None
        self._pending = b""
        self.line_no = 0

    def reset(self) -> None:
        self._offset = 0
        self._pending = b""
        self.line_no = 0

    def seek_tail(self, max_bytes: int) -> None:
        """Start reading at most ``max_bytes`` before the end (at a line boundary)."""
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            return
        if size <= max_bytes:
            return
        with open(self.path, "rb") as fh:
            fh.seek(size - max_bytes)
            skipped = fh.readline()
        self._offset = size - max_bytes + len(skipped)

    def read_new(self) -> list[T]:
        """Decoded lines appended since the last call (empty when the file is missing)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        if self._inode is not None and (st.st_ino != self._inode or st.st_size < self._offset):
            self.reset()
        self._inode = st.st_ino
        if st.st_size == self._offset:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            chunk = fh.read(min(MAX_READ, st.st_size - self._offset))
        self._offset += len(chunk)
        data = self._pending + chunk
        lines = data.split(b"\n")
        self._pending = lines.pop()  # b"" when the chunk ended on a newline
        out: list[T] = []
        for raw in lines:
            self.line_no += 1
            text = raw.decode("utf-8", errors="replace").rstrip("\r")
            if text.strip():
                out.append(self._decode(text, self.line_no))
        return out


def _last_carriage_segment(text: str, _line_no: int) -> str:
    """Progress bars rewrite their line with \r: keep what the terminal would show last."""
    if "\r" in text:
        parts = [part for part in text.split("\r") if part.strip()]
        return parts[-1] if parts else ""
    return text


def text_tail(path: Path) -> FileTail[str]:
    return FileTail(path, _last_carriage_segment)


def last_lines(path: Path, count: int, block: int = 64 * 1024) -> list[str]:
    """The last ``count`` lines of a text file, reading backwards from its end."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            end = fh.tell()
            data = b""
            while end > 0 and data.count(b"\n") <= count:
                start = max(0, end - block)
                fh.seek(start)
                data = fh.read(end - start) + data
                end = start
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-count:]
