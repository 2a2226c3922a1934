"""Source detection and streaming readers: every kind of file, and files that are not what they say."""

from __future__ import annotations

import gzip
import json
import time

import pytest

from slm_workbench.engine.data import DataFileError, open_source, preview
from slm_workbench.engine.data.pipeline import iter_rows

from .conftest import chat, jsonl

ROWS = [chat("a", "b"), chat("c", "d"), chat("e", "f")]


def values(path) -> list:
    return [r.value for r in iter_rows(open_source(path))]


def test_jsonl_rows_carry_their_line_numbers(write):
    path = write("d.jsonl", jsonl([ROWS[0]]) + "\n\n" + jsonl(ROWS[1:]))
    rows = list(iter_rows(open_source(path)))
    assert [(r.loc.row, r.loc.line) for r in rows] == [(1, 1), (2, 4), (3, 5)]
    assert [r.value for r in rows] == ROWS


def test_json_array_items_carry_their_line_numbers(write):
    path = write("d.json", "[\n" + ",\n".join(json.dumps(r) for r in ROWS) + "\n]\n")
    assert open_source(path).kind == "json"
    rows = list(iter_rows(open_source(path)))
    assert [r.value for r in rows] == ROWS
    assert [r.loc.line for r in rows] == [2, 3, 4]


def test_json_array_streams_items_larger_than_a_chunk(write):
    from slm_workbench.engine.data.readers import read_json_array

    big = [chat("x" * 5000, "y"), chat("q", "z" * 3000)] * 3
    path = write("big.json", json.dumps(big, indent=1))
    assert [r.value for r in read_json_array(open_source(path), chunk=1024)] == big


def test_json_file_holding_json_lines_is_read_as_jsonl(write):
    path = write("d.json", jsonl(ROWS))
    assert open_source(path).kind == "jsonl"
    assert values(path) == ROWS


def test_csv_and_tsv_with_quoted_multiline_fields(write):
    path = write("d.csv", 'prompt,completion\n"a, with comma","line one\nline two"\nq,r\n')
    rows = list(iter_rows(open_source(path)))
    assert [r.value for r in rows] == [{"prompt": "a, with comma", "completion": "line one\nline two"},
                                       {"prompt": "q", "completion": "r"}]
    assert [r.loc.line for r in rows] == [2, 4]
    tsv = write("d.tsv", "prompt\tcompletion\nhello\tworld\n")
    assert values(tsv) == [{"prompt": "hello", "completion": "world"}]


def test_parquet(write, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist([{"prompt": "a", "completion": "b"}] * 3), path)
    assert open_source(path).kind == "parquet"
    assert values(path) == [{"prompt": "a", "completion": "b"}] * 3


def test_save_to_disk_folder_and_its_splits(tmp_path):
    import datasets

    folder = tmp_path / "ds"
    datasets.DatasetDict({"train": datasets.Dataset.from_list([{"text": "a"}, {"text": "b"}]),
                          "test": datasets.Dataset.from_list([{"text": "c"}])}).save_to_disk(str(folder))
    assert open_source(folder).kind == "hf_disk"
    assert values(folder) == [{"text": "a"}, {"text": "b"}]
    assert [r.value for r in iter_rows(open_source(folder, split="test"))] == [{"text": "c"}]
    with pytest.raises(DataFileError, match="no split 'nope'; it has train, test"):
        list(iter_rows(open_source(folder, split="nope")))


def test_gzip_with_a_gz_name_is_read(write):
    path = write("d.jsonl.gz", gzip.compress(jsonl(ROWS).encode()))
    assert open_source(path).kind == "jsonl"
    assert values(path) == ROWS


def test_hub_id_offline_fails_with_one_clear_line():
    source = open_source("someone/some-dataset")
    assert source.kind == "hub"
    with pytest.raises(DataFileError) as exc:
        list(iter_rows(source, limit=2))
    assert exc.value.message.startswith("someone/some-dataset: cannot load hub dataset")
    assert "offline" in exc.value.hint
    assert exc.value.exit_code == 2


def test_missing_file_and_plain_folder(tmp_path):
    with pytest.raises(DataFileError, match="nope.jsonl: no such file"):
        open_source(tmp_path / "nope.jsonl")
    with pytest.raises(DataFileError, match="no such file"):
        open_source("data/missing.jsonl")  # looks like owner/name, but it is a file name
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "train.jsonl").write_text("{}\n")
    with pytest.raises(DataFileError) as exc:
        open_source(tmp_path / "folder")
    assert "not a datasets save_to_disk folder" in exc.value.message
    assert "train.jsonl" in exc.value.hint


def test_unknown_extension_is_sniffed(write):
    assert open_source(write("data.txt", jsonl(ROWS))).kind == "jsonl"
    assert open_source(write("data.dat", json.dumps(ROWS))).kind == "json"
    with pytest.raises(DataFileError, match="cannot tell what kind of file"):
        open_source(write("notes.txt", "just some words\n"))


def test_preview_reads_only_the_first_lines(write):
    """The first rows of a file whose tail is garbage come back at once and without issues."""
    good = jsonl([chat(f"q{i}", f"a{i}") for i in range(10)])
    path = write("big.jsonl", good + ("{broken\n" * 400_000))
    start = time.perf_counter()
    pv = preview(path, 5)
    assert time.perf_counter() - start < 1.0
    assert len(pv.rows) == 5 and not pv.issues
    assert pv.detection.spec.name == "messages"
