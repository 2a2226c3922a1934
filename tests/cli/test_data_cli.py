"""``slmw data``: exit codes 0/1/2, messages that name the file, --json, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.cli.main import main

GOOD = {"messages": [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "2 + 2 = 4."}]}


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def lines(*rows) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


def test_validate_exit_0_for_a_valid_file_with_bom_and_crlf(capsys, tmp_path):
    path = write(tmp_path, "ok.jsonl", b"\xef\xbb\xbf" + lines(GOOD, GOOD).replace("\n", "\r\n").encode())
    code, out, _ = run(capsys, "data", "validate", path)
    assert code == 0
    assert f"{path}: valid: 2 rows, 2 valid, 0 invalid" in out


def test_validate_exit_1_names_file_line_field_and_hint(capsys, tmp_path):
    bad = {"messages": [{"role": "human", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    path = write(tmp_path, "bad.jsonl", lines(GOOD, bad, "{nope"))
    code, out, _ = run(capsys, "data", "validate", path)
    assert code == 1
    assert f"{path}:2: messages[0].role: unknown role 'human'" in out
    assert "    hint: map it: --role human=user" in out
    assert f"{path}:3: not valid JSON" in out
    assert f"{path}: INVALID: 3 rows, 1 valid, 2 invalid" in out


def test_validate_json_lists_every_issue(capsys, tmp_path):
    path = write(tmp_path, "bad.jsonl", lines(GOOD, "[1]"))
    code, out, _ = run(capsys, "data", "validate", path, "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["invalid"] == 1
    assert report["issues"][0] | {"hint": None} == {"file": path, "code": "not_object", "message": "is a list, not a JSON object",
                                                    "hint": None, "line": 2, "row": 2, "field": None, "severity": "error", "times": 1}


@pytest.mark.parametrize(("name", "content", "words"), [
    ("z.jsonl", b"\x1f\x8b\x08\x00\x00", "gzip-compressed"),
    ("b.jsonl", b"\x00\x01\x02\x03", "binary data"),
    ("missing.jsonl", None, "no such file"),
])
def test_validate_exit_2_when_the_file_cannot_be_read(capsys, tmp_path, name, content, words):
    path = write(tmp_path, name, content) if content is not None else str(tmp_path / name)
    code, out, err = run(capsys, "data", "validate", path)
    assert code == 2 and out == ""
    assert err.startswith(f"slmw: error: {path}: ") and words in err
    code, out, _ = run(capsys, "data", "validate", path, "--json")
    result = json.loads(out)
    assert code == 2 and result["readable"] is False and words in result["error"] and result["file"] == path


def test_format_problems_name_the_file(capsys, tmp_path):
    path = write(tmp_path, "odd.jsonl", lines({"foo": 1}))
    code, _, err = run(capsys, "data", "validate", path)
    assert code == 1 and err.startswith(f"slmw: error: {path}: cannot tell the format")
    assert "slmw: hint:" in err
    code, _, err = run(capsys, "data", "validate", path, "--format", "alpaca", "--map", "answer=foo")
    assert code == 1 and err.startswith(f"slmw: error: {path}: --map answer=...")


def test_validate_with_mapping_and_max_length(capsys, tmp_path, smollm2_tokenizer_dir):
    path = write(tmp_path, "qa.csv", "q,a\nWhat is 2 + 2?,4\n" + "long " * 100 + ",5\n")
    code, out, _ = run(capsys, "data", "validate", path, "--map", "prompt=q", "--map", "completion=a",
                       "--model", str(smollm2_tokenizer_dir), "--max-length", "64")
    assert code == 1
    assert f"{path}:3: " in out and "over the limit of 64" in out and "1 too long" in out


def test_preview_shows_format_rows_and_the_loss_mask(capsys, tmp_path, smollm2_tokenizer_dir):
    path = write(tmp_path, "d.jsonl", lines(GOOD, GOOD))
    code, out, _ = run(capsys, "data", "preview", path, "--render", "1", "--model", str(smollm2_tokenizer_dir))
    assert code == 0
    assert "format: messages" in out and "confirm it" in out and "line 1" in out
    assert "<|im_start|>assistant\n⟦2 + 2 = 4.<|im_end|>⟧\n" in out
    code, out, _ = run(capsys, "data", "preview", path, "--render", "2", "--model", str(smollm2_tokenizer_dir), "--json")
    data = json.loads(out)
    assert data["format"] == "messages" and data["rows"] == [GOOD, GOOD]
    assert [text for text, trained in data["sample"]["segments"] if trained] == ["2 + 2 = 4.<|im_end|>"]


def test_stats_prints_a_histogram_and_writes_nothing(capsys, tmp_path, smollm2_tokenizer_dir):
    path = write(tmp_path, "d.jsonl", lines(GOOD, GOOD, {"prompt": "x", "completion": "y"}))
    code, out, _ = run(capsys, "data", "stats", path, "--model", str(smollm2_tokenizer_dir))
    assert code == 0
    assert "rows: 3 in, 1 kept (1 train, 0 eval); dropped: 1 duplicate, 1 invalid" in out
    assert "token lengths:" in out and "│" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jsonl"]


def test_prepare_writes_the_dataset_and_manifest(capsys, tmp_path, smollm2_tokenizer_dir):
    rows = [{"instruction": f"Add {i} and {i}.", "output": str(2 * i)} for i in range(20)]
    path = write(tmp_path, "alpaca.json", json.dumps(rows))
    out_dir = tmp_path / "out"
    code, out, _ = run(capsys, "data", "prepare", path, "-o", str(out_dir), "--model", str(smollm2_tokenizer_dir),
                       "--eval-fraction", "0.25", "--output-format", "jsonl")
    assert code == 0 and f"wrote {out_dir} (jsonl)" in out
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["rows"]["train"] == 15 and manifest["rows"]["eval"] == 5
    assert manifest["format"]["name"] == "alpaca"
    code, _, err = run(capsys, "data", "prepare", path, "-o", str(out_dir), "--model", str(smollm2_tokenizer_dir))
    assert code == 1 and "already exists" in err


def test_prepare_rejects_bad_settings_with_the_field(capsys, tmp_path):
    path = write(tmp_path, "d.jsonl", lines(GOOD))
    code, _, err = run(capsys, "data", "prepare", path, "-o", str(tmp_path / "o"), "--eval-fraction", "0.9")
    assert code == 1 and "eval_fraction: Input should be less than or equal to 0.5" in err


def test_prepare_as_a_job(capsys, tmp_path, smollm2_tokenizer_dir):
    from slm_workbench.engine.runs.store import RunStore

    path = write(tmp_path, "d.jsonl", lines(GOOD))
    out_dir = tmp_path / "job-out"
    code, out, _ = run(capsys, "data", "prepare", path, "-o", str(out_dir), "--model", str(smollm2_tokenizer_dir),
                       "--job", "--json")
    summary = json.loads(out)
    assert code == 0, summary
    assert (out_dir / "manifest.json").exists()
    info = RunStore().get(summary["id"])
    assert info.state == "done" and info.stage == "data.prepare"
