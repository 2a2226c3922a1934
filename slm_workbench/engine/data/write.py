"""Write prepared splits: a ``datasets`` folder (with ids and labels) or JSON Lines.

The ``hf`` columns are the canonical record (``messages``, or ``prompt``/``completion``, or
``text``), ``input_ids`` and ``labels`` (-100 where the loss is masked), ``n_tokens`` and
``source_row`` (the 1-based row of the source file: lineage per example). Token columns
are built as Arrow arrays straight from packed int32 buffers, which keeps a 100k-row
dataset to tens of megabytes and one copy.
"""

from __future__ import annotations

import json
from array import array
from pathlib import Path
from typing import Any

from .encode import IGNORE
from .pipeline import KeptRow
from .readers import ProgressFn

MESSAGE_TYPE_FIELDS = (("role", "string"), ("content", "string"))


def _token_columns(rows: list[KeptRow]) -> tuple[Any, Any, Any]:
    import numpy as np
    import pyarrow as pa

    flat = array("i")
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    for k, row in enumerate(rows):
        flat.extend(row.input_ids)
        offsets[k + 1] = len(flat)
    ids = np.frombuffer(flat, dtype=np.int32) if len(flat) else np.zeros(0, dtype=np.int32)
    labels = np.full(len(ids), IGNORE, dtype=np.int32)
    for k, row in enumerate(rows):
        base = int(offsets[k])
        for i, j in row.ranges:
            labels[base + i : base + j] = ids[base + i : base + j]
    list_type = pa.large_list if offsets[-1] >= 2**31 else pa.list_
    offs = pa.array(offsets, type=pa.int64() if list_type is pa.large_list else pa.int32())
    cls = pa.LargeListArray if list_type is pa.large_list else pa.ListArray
    lengths = np.diff(offsets).astype(np.int32)
    return cls.from_arrays(offs, pa.array(ids)), cls.from_arrays(offs, pa.array(labels)), pa.array(lengths)


def _table(rows: list[KeptRow]) -> Any:
    import pyarrow as pa

    columns: dict[str, Any] = {}
    sample = rows[0].record if rows else {"messages": []}
    if "messages" in sample:
        message = pa.struct([(name, pa.string()) for name, _ in MESSAGE_TYPE_FIELDS])
        columns["messages"] = pa.array([r.record["messages"] for r in rows], type=pa.list_(message))
    for key in ("prompt", "completion", "text"):
        if key in sample:
            columns[key] = pa.array([r.record[key] for r in rows], type=pa.string())
    ids, labels, lengths = _token_columns(rows)
    columns.update(input_ids=ids, labels=labels, n_tokens=lengths,
                   source_row=pa.array([r.row for r in rows], type=pa.int64()))
    return pa.table(columns)


def write_hf(folder: Path, splits: dict[str, list[KeptRow]], progress: ProgressFn | None = None) -> None:
    import datasets

    datasets.disable_progress_bars()
    parts = {name: datasets.Dataset(_table(rows)) for name, rows in splits.items() if rows or name == "train"}
    if progress:
        progress("writing", 0, 1, "datasets")
    datasets.DatasetDict(parts).save_to_disk(str(folder))
    if progress:
        progress("writing", 1, 1, "datasets")


def write_jsonl(folder: Path, splits: dict[str, list[KeptRow]], progress: ProgressFn | None = None) -> None:
    total = sum(len(rows) for rows in splits.values()) or 1
    done = 0
    for name, rows in splits.items():
        if not rows and name != "train":
            continue
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps({**row.record, "n_tokens": len(row.input_ids), "source_row": row.row},
                                    ensure_ascii=False) + "\n")
                done += 1
                if progress and done % 5000 == 0:
                    progress("writing", done, total, "rows")
    if progress:
        progress("writing", total, total, "rows")
