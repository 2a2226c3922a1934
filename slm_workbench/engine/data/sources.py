"""What a dataset reference is: a file of some kind, a ``save_to_disk`` folder, or a hub id.

Detection reads at most the first 8 KB, and trusts bytes over names: a gzip, zip or
Parquet file named ``.jsonl`` is reported as such (with the command that fixes it) rather
than failing later as "invalid JSON on line 1". Everything that makes a file unreadable as
a whole raises ``DataFileError`` (exit code 2) naming the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..paths import describe_os_error
from .issues import DataFileError

SourceKind = Literal["jsonl", "json", "csv", "tsv", "parquet", "hf_disk", "hub"]
TEXT_KINDS = ("jsonl", "json", "csv", "tsv")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
HEAD_BYTES = 8192

EXTENSIONS: dict[str, SourceKind] = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".jsonlines": "jsonl", ".json": "json",
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
}
# Magic bytes of formats that are not text, with how to get at the data inside.
MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed", "gunzip -c {path} > {plain}  (or name it {path}.gz to read it as is)"),
    (b"PK\x03\x04", "a zip archive", "unzip {path} and give the file inside"),
    (b"PK\x05\x06", "an empty zip archive", "unzip it and give the file inside"),
    (b"BZh", "bzip2-compressed", "bunzip2 -k {path} and give the result"),
    (b"\xfd7zXZ\x00", "xz-compressed", "unxz -k {path} and give the result"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", "unzstd {path} and give the result"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it and give the file inside"),
    (b"PAR1", "a Parquet file", "rename it to {stem}.parquet"),
    (b"ARROW1", "an Arrow file", "load it with datasets and save_to_disk, then give that folder"),
    (b"%PDF", "a PDF document", "export the data as JSONL or CSV"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table as CSV or JSONL"),
)
DEMO_ALIASES = ("slmw:demo", "slmw:demo-eval", "slmw:demo-prompts")
"""The shipped demo files: the training set, its held-out examples (names never trained on), and the
distillation demo's prompts (``demo.DEMO_FILES`` maps each to its file)."""


@dataclass(frozen=True)
class Source:
    spec: str
    """The reference as the user gave it; every message names the file by it."""
    kind: SourceKind
    path: Path | None = None
    """The file or folder (None for a hub dataset)."""
    gzip: bool = False
    split: str | None = None
    """The split of a ``save_to_disk`` DatasetDict or a hub dataset (default: train)."""
    size: int | None = None

    @property
    def name(self) -> str:
        return self.spec


def _kind_from_name(path: Path) -> tuple[SourceKind | None, bool]:
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    if gz:
        suffixes = suffixes[:-1]
    return (EXTENSIONS.get(suffixes[-1]) if suffixes else None), gz


def _read_head(path: Path, spec: str, gz: bool) -> bytes:
    try:
        if gz:
            import gzip

            with gzip.open(path, "rb") as fh:
                return fh.read(HEAD_BYTES)
        with open(path, "rb") as fh:
            return fh.read(HEAD_BYTES)
    except OSError as exc:
        if gz and not isinstance(exc, (PermissionError, FileNotFoundError)):
            raise DataFileError(f"{spec}: named .gz but not a readable gzip file ({exc})") from None
        raise DataFileError(f"{spec}: cannot read ({describe_os_error(exc)})") from None
    except EOFError:
        raise DataFileError(f"{spec}: the gzip stream is truncated") from None


def _sniff_text(head: bytes, spec: str, named: SourceKind | None, path: Path) -> None:
    """Raise for bytes that are not UTF-8 text; the hint says how to get text out of them."""
    for magic, what, fix in MAGIC:
        if head.startswith(magic):
            if magic == b"PAR1":
                named_as = f" but named {path.suffix}" if path.suffix else ""
                raise DataFileError(f"{spec}: this is {what}{named_as}", hint=fix.format(stem=path.stem, path=spec))
            plain = spec[: -len(path.suffix)] + ".plain" + path.suffix if path.suffix else spec + ".txt"
            raise DataFileError(
                f"{spec}: this file is {what}, not {named or 'text'}",
                hint=fix.format(path=spec, plain=plain, stem=path.stem),
            )
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataFileError(
            f"{spec}: this file is UTF-16 encoded; the workbench reads UTF-8",
            hint=f"convert it: iconv -f UTF-16 -t UTF-8 {spec} > {path.stem}.utf8{path.suffix}",
        )
    if b"\x00" in head:
        offset = head.index(b"\x00")
        raise DataFileError(
            f"{spec}: binary data (a NUL byte at offset {offset}), not {named or 'a text dataset'}",
            hint="give a JSONL, JSON, CSV/TSV or Parquet file, or a datasets save_to_disk folder",
        )


def _folder_source(path: Path, spec: str, split: str | None) -> Source:
    if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
        return Source(spec, "hf_disk", path, split=split)
    files = sorted(p.name for p in path.iterdir() if _kind_from_name(p)[0]) if os.access(path, os.R_OK) else []
    hint = f"give one of the files in it: {', '.join(files[:5])}" if files else (
        "give a data file, or a folder written by datasets' save_to_disk")
    raise DataFileError(f"{spec}: a folder, but not a datasets save_to_disk folder (no dataset_dict.json or state.json)", hint=hint)


def open_source(spec: str | os.PathLike[str], *, split: str | None = None) -> Source:
    """Detect what ``spec`` is; cheap (reads at most 8 KB) and never imports ``datasets``."""
    spec = str(spec)
    if spec in DEMO_ALIASES:
        from ...demo import DEMO_FILES

        return open_source(DEMO_FILES[spec], split=split)
    path = Path(spec).expanduser()
    if path.is_dir():
        return _folder_source(path, spec, split)
    named, gz = _kind_from_name(path)
    if not path.exists():
        if HUB_ID.match(spec) and named is None and not spec.startswith((".", "/", "~")):
            return Source(spec, "hub", None, split=split)
        raise DataFileError(f"{spec}: no such file or folder")
    if not path.is_file():
        raise DataFileError(f"{spec}: not a regular file")
    head = _read_head(path, spec, gz)
    size = path.stat().st_size
    if named == "parquet":
        if head.startswith(b"PAR1"):
            return Source(spec, "parquet", path, size=size)
        raise DataFileError(f"{spec}: named .parquet but not a Parquet file (no PAR1 magic bytes)",
                            hint="it may be truncated, or another format renamed")
    _sniff_text(head, spec, named, path)
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if named == "json" and first == b"{":
        named = "jsonl"  # one object per line in a .json file: read it as JSON Lines (as datasets does)
    if named is None:
        if first == b"{":
            named = "jsonl"
        elif first == b"[":
            named = "json"
        else:
            raise DataFileError(
                f"{spec}: cannot tell what kind of file this is",
                hint="name it .jsonl, .json, .csv, .tsv or .parquet",
            )
    return Source(spec, named, path, gzip=gz, split=split, size=size)
