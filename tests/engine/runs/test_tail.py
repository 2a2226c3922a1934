"""FileTail reads only what was appended, holds back a torn last line, and starts over on a new file."""

from __future__ import annotations

import os
from pathlib import Path

from slm_workbench.engine.runs.tail import FileTail, last_lines, text_tail


def append(path: Path, data: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(data)


def test_missing_file_reads_nothing(tmp_path):
    assert text_tail(tmp_path / "absent.log").read_new() == []


def test_reads_only_new_bytes(tmp_path):
    path = tmp_path / "events.jsonl"
    append(path, "one\ntwo\n")
    tail = FileTail(path, lambda text, n: (n, text))
    assert tail.read_new() == [(1, "one"), (2, "two")]
    assert tail.read_new() == []
    with open(path, "r+b") as fh:  # rewrite what was read, in place: a re-read would show it
        fh.write(b"ONE")
    append(path, "three\n")
    assert tail.read_new() == [(3, "three")]


def test_partial_last_line_is_held_back_until_finished(tmp_path):
    path = tmp_path / "events.jsonl"
    append(path, 'first\n{"kind": "prog')
    tail = FileTail(path, lambda text, n: (n, text))
    assert tail.read_new() == [(1, "first")]
    assert tail.read_new() == []
    append(path, 'ress"}\nsecond')
    assert tail.read_new() == [(2, '{"kind": "progress"}')]
    append(path, "\n")
    assert tail.read_new() == [(3, "second")]


def test_multibyte_character_split_across_writes(tmp_path):
    path = tmp_path / "log"
    euro = "€".encode()
    path.write_bytes(b"price " + euro[:1])
    tail = text_tail(path)
    assert tail.read_new() == []
    with open(path, "ab") as fh:
        fh.write(euro[1:] + b"\n")
    assert tail.read_new() == ["price €"]


def test_blank_lines_count_for_line_numbers(tmp_path):
    path = tmp_path / "events.jsonl"
    append(path, "a\n\n  \nb\n")
    assert FileTail(path, lambda text, n: (n, text)).read_new() == [(1, "a"), (4, "b")]


def test_truncated_file_is_read_again_from_the_start(tmp_path):
    path = tmp_path / "worker.log"
    append(path, "old line one\nold line two\n")
    tail = FileTail(path, lambda text, n: (n, text))
    assert len(tail.read_new()) == 2
    path.write_text("new\n")  # truncated and rewritten, shorter than before
    assert tail.read_new() == [(1, "new")]


def test_replaced_file_is_read_again_from_the_start(tmp_path):
    path = tmp_path / "events.jsonl"
    append(path, "a\nb\n")
    tail = FileTail(path, lambda text, n: (n, text))
    assert len(tail.read_new()) == 2
    replacement = tmp_path / "events.jsonl.new"
    replacement.write_text("x\ny\nz\nlonger than before\n")
    os.replace(replacement, path)  # a new inode, larger than the old offset
    assert tail.read_new() == [(1, "x"), (2, "y"), (3, "z"), (4, "longer than before")]


def test_replaced_file_drops_the_held_back_partial_line(tmp_path):
    path = tmp_path / "events.jsonl"
    append(path, "a\npartial")
    tail = FileTail(path, lambda text, n: text)
    assert tail.read_new() == ["a"]
    replacement = tmp_path / "new"
    replacement.write_text("fresh\n")
    os.replace(replacement, path)
    assert tail.read_new() == ["fresh"]


def test_last_lines_reads_backwards_across_blocks(tmp_path):
    path = tmp_path / "worker.log"
    path.write_text("".join(f"line {i}\n" for i in range(1000)))
    assert last_lines(path, 3, block=16) == ["line 997", "line 998", "line 999"]
    assert last_lines(path, 5000) == [f"line {i}" for i in range(1000)]
    assert last_lines(tmp_path / "absent", 3) == []
