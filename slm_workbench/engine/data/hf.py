"""Rows from Parquet (pyarrow), ``save_to_disk`` folders and hub datasets (``datasets``).

These imports are heavy (``datasets`` takes a second or two), so they happen here, inside
the functions, and only for these kinds of source. A hub id needs the network; offline
(``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE``) it fails with one clear line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from .issues import DataFileError, Loc
from .readers import ProgressFn, RawRow
from .sources import Source

BATCH = 1000


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _rows_of_batch(batch: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(batch)
    return [dict(zip(names, values)) for values in zip(*(batch[n] for n in names))]


def read_parquet(source: Source, progress: ProgressFn | None = None, limit: int | None = None) -> Iterator[RawRow]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(source.path)
        total = pf.metadata.num_rows
        batches = pf.iter_batches(batch_size=min(BATCH, limit or BATCH))
        row = 0
        for batch in batches:
            for value in batch.to_pylist():
                row += 1
                yield RawRow(Loc(row), value)
            if progress:
                progress("reading", row, total, "rows")
            if limit and row >= limit:
                return
    except (pa.ArrowException, OSError) as exc:
        raise DataFileError(f"{source.spec}: cannot read as Parquet: {_first_line(exc)}",
                            hint="the file may be truncated or written by an incompatible tool") from None


def _pick_split(obj: Any, source: Source) -> Any:
    from datasets import DatasetDict

    if not isinstance(obj, DatasetDict):
        return obj
    names = list(obj)
    split = source.split or ("train" if "train" in obj else names[0] if len(names) == 1 else None)
    if split not in obj:
        raise DataFileError(f"{source.spec}: no split {split!r}; it has {', '.join(names)}",
                            hint="choose one with --split NAME")
    return obj[split]


def load_hf(source: Source, *, streaming: bool = False) -> Any:
    """The ``datasets`` object behind a folder or hub source (a Dataset or IterableDataset)."""
    import datasets

    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    if source.kind == "hf_disk":
        try:
            return _pick_split(datasets.load_from_disk(str(source.path)), source)
        except DataFileError:
            raise
        except Exception as exc:  # noqa: BLE001 - datasets raises many kinds; the user needs one line
            raise DataFileError(f"{source.spec}: cannot load the save_to_disk folder: {_first_line(exc)}") from None
    offline = any(os.environ.get(k, "") in ("1", "true", "True") for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
    try:
        return datasets.load_dataset(source.spec, split=source.split or "train", streaming=streaming)
    except Exception as exc:  # noqa: BLE001
        hint = ("hub datasets need the network and offline mode is on (HF_HUB_OFFLINE); "
                "download it on a connected machine and give the save_to_disk folder") if offline else (
                "check the id (owner/name) and the network; or give a local file")
        raise DataFileError(f"{source.spec}: cannot load hub dataset: {_first_line(exc)}", hint=hint) from None


def read_hf(source: Source, progress: ProgressFn | None = None, limit: int | None = None) -> Iterator[RawRow]:
    ds = load_hf(source, streaming=bool(limit) and source.kind == "hub")
    if limit and source.kind == "hub":
        for row, value in enumerate(ds.take(limit), start=1):
            yield RawRow(Loc(row), value)
        return
    total = len(ds)
    count = min(total, limit) if limit else total
    row = 0
    try:
        for start in range(0, count, BATCH):
            batch = ds[start : min(count, start + BATCH)]
            for value in _rows_of_batch(batch):
                row += 1
                yield RawRow(Loc(row), value)
            if progress:
                progress("reading", row, count, "rows")
    except OSError as exc:
        raise DataFileError(f"{source.spec}: read failed: {_first_line(exc)}") from None
