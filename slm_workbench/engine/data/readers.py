"""Read rows one at a time, each with its line (or row) number, streaming.

JSONL, JSON and CSV/TSV are read here with plain Python rather than through ``datasets``:
``datasets`` (pyarrow) parses a whole file at once and, on a bad line, fails with no line
number, which is the opaque error this workbench exists to avoid. Reading line by line
keeps every problem attached to its line, lets one bad line be skipped, and makes a
preview of a 1 GB file cost only its first lines. Parquet goes through pyarrow, and
``save_to_disk`` folders and hub ids through ``datasets`` (``hf.py``).

A reader yields ``RawRow``: the value (usually a dict) or the issue that replaced it.
"""

from __future__ import annotations

import codecs
import csv
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..paths import describe_os_error
from .issues import DataFileError, Issue, Loc
from .sources import Source

ProgressFn = Callable[[str, float, "float | None", str], None]
"""``(phase, done, total, unit)``: the same shape as ``RunContext.progress``."""
PROGRESS_EVERY = 2000
MAX_LINE_BYTES = 64 * 1024 * 1024
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class RawRow:
    loc: Loc
    value: Any = None
    issue: Issue | None = None


def _open_binary(source: Source) -> BinaryIO:
    assert source.path is not None
    try:
        if source.gzip:
            import gzip

            return gzip.open(source.path, "rb")  # type: ignore[return-value]
        return open(source.path, "rb")
    except OSError as exc:
        raise DataFileError(f"{source.spec}: cannot read ({describe_os_error(exc)})") from None


def _decode(raw: bytes, source: Source, loc: Loc) -> tuple[str, Issue | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        column = len(raw[: exc.start].decode("utf-8", "replace")) + 1
        issue = loc.issue(
            source.spec, "encoding", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {column})",
            hint="save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 IN > OUT",
        )
        return raw.decode("utf-8", "replace"), issue


def _lines(source: Source, progress: ProgressFn | None) -> Iterator[tuple[int, bytes, bool]]:
    """``(line_no, bytes without the line ending, ended_with_newline)``, a UTF-8 BOM removed."""
    total = float(source.size) if source.size and not source.gzip else None
    done = 0
    with _open_binary(source) as fh:
        try:
            for line_no, raw in enumerate(iter(lambda: fh.readline(MAX_LINE_BYTES), b""), start=1):
                done += len(raw)
                if line_no == 1 and raw.startswith(BOM):
                    raw = raw[3:]
                ended = raw.endswith(b"\n")
                if progress and line_no % PROGRESS_EVERY == 0:
                    progress("reading", done, total, "bytes")
                yield line_no, raw.rstrip(b"\r\n") if ended else raw.rstrip(b"\r"), ended
        except (OSError, EOFError) as exc:
            raise DataFileError(f"{source.spec}: read failed ({exc})") from None
    if progress:
        progress("reading", total or done, total or done, "bytes")


def read_jsonl(source: Source, progress: ProgressFn | None = None) -> Iterator[RawRow]:
    row = 0
    for line_no, raw, ended in _lines(source, progress):
        if not raw.strip():
            continue  # blank lines separate nothing in JSON Lines; skip them as datasets does
        row += 1
        loc = Loc(row, line_no)
        text, issue = _decode(raw, source, loc)
        if issue:
            yield RawRow(loc, issue=issue)
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            truncated = not ended and exc.pos >= len(text.rstrip()) - 1
            hint = ("the last line is cut off: the file may be truncated (an interrupted download or write)"
                    if truncated else "each line must be one complete JSON object; check quotes, commas and escapes there")
            yield RawRow(loc, issue=loc.issue(source.spec, "invalid_json",
                                              f"not valid JSON: {exc.msg} (column {exc.colno})", hint=hint))
            continue
        yield RawRow(loc, value)


def read_json_array(source: Source, progress: ProgressFn | None = None, chunk: int = 1 << 20) -> Iterator[RawRow]:
    """Items of a top-level JSON array, decoded one at a time from a growing buffer."""
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    total = float(source.size) if source.size and not source.gzip else None
    with _open_binary(source) as fh:
        buf, pos, line, eof, done, row = "", 0, 1, False, 0, 0

        def more() -> bool:
            nonlocal buf, eof, done
            data = fh.read(chunk)
            done += len(data)
            try:
                buf += utf8.decode(data, final=not data)
            except UnicodeDecodeError:
                raise DataFileError(f"{source.spec}: not valid UTF-8 near line {line + buf.count(chr(10), pos)}",
                                    hint="save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 IN > OUT") from None
            eof = not data
            if progress:
                progress("reading", done, total, "bytes")
            return bool(data)

        def skip_ws() -> None:
            nonlocal pos, line
            while True:
                start = pos
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                line += buf.count("\n", start, pos)
                if pos < len(buf) or not more():
                    return

        more()
        skip_ws()
        if pos >= len(buf):
            return
        if buf[pos] != "[":
            raise DataFileError(f"{source.spec}:{line}: a .json file must hold an array of objects, found {buf[pos]!r}",
                                hint="for one object per line, name the file .jsonl")
        pos += 1
        while True:
            skip_ws()
            if pos < len(buf) and buf[pos] == "]":
                return
            if pos >= len(buf):
                raise DataFileError(f"{source.spec}:{line}: the JSON array is not closed (the file may be truncated)")
            row += 1
            while True:
                try:
                    value, end = decoder.raw_decode(buf, pos)
                    break
                except json.JSONDecodeError as exc:
                    if not eof and more():  # maybe the item runs past the buffer: read on
                        continue
                    at = line + buf.count("\n", pos, exc.pos)
                    raise DataFileError(f"{source.spec}:{at}: item {row} is not valid JSON: {exc.msg}",
                                        hint="fix the JSON there; everything after it cannot be read") from None
            yield RawRow(Loc(row, line), value)
            line += buf.count("\n", pos, end)
            pos = end
            skip_ws()
            if pos < len(buf) and buf[pos] == ",":
                pos += 1
            elif pos < len(buf) and buf[pos] != "]":
                raise DataFileError(f"{source.spec}:{line}: expected ',' or ']' after item {row}")
            if pos > chunk:
                buf, pos = buf[pos:], 0


def read_csv(source: Source, progress: ProgressFn | None = None) -> Iterator[RawRow]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    bad_lines: dict[int, Issue] = {}

    def text_lines() -> Iterator[str]:
        for line_no, raw, _ in _lines(source, progress):
            text, issue = _decode(raw, source, Loc(0, line_no))
            if issue:
                bad_lines[line_no] = issue
            yield text + "\n"

    reader = csv.reader(text_lines(), delimiter="\t" if source.kind == "tsv" else ",")
    header: list[str] | None = None
    row, last_line = 0, 0
    try:
        for fields in reader:
            start, last_line = last_line + 1, reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if header is None:
                header = [f.strip() for f in fields]
                seen: set[str] = set()
                for i, name in enumerate(header):
                    if not name:
                        raise DataFileError(f"{source.spec}:{start}: column {i + 1} of the header has no name")
                    if name in seen:
                        raise DataFileError(f"{source.spec}:{start}: the header names column {name!r} twice")
                    seen.add(name)
                continue
            row += 1
            loc = Loc(row, start)
            bad = next((bad_lines.pop(n) for n in range(start, last_line + 1) if n in bad_lines), None)
            if bad:
                yield RawRow(loc, issue=Issue(**{**bad.as_dict(), "row": row, "line": bad.line}))
            elif len(fields) != len(header):
                sep = "tab" if source.kind == "tsv" else "comma"
                yield RawRow(loc, issue=loc.issue(
                    source.spec, "csv_fields", f"has {len(fields)} fields, the header has {len(header)}",
                    hint=f"a value that contains a {sep}, a quote or a line break must be in double quotes"))
            else:
                yield RawRow(loc, dict(zip(header, fields)))
    except csv.Error as exc:
        raise DataFileError(f"{source.spec}:{reader.line_num}: cannot parse as {source.kind.upper()}: {exc}") from None
