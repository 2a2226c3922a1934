"""prepare: the written dataset, its manifest (the lineage), the job stage, and the recipe."""

from __future__ import annotations

import hashlib
import json

import pytest

from slm_workbench.config.recipes import PrepareDataRecipe
from slm_workbench.engine.data import IGNORE, encode_example, prepare_dataset, read_manifest
from slm_workbench.engine.errors import Cancelled, WorkbenchError

from .conftest import chat, jsonl

ROWS = [chat(f"What is {i} + {i}?", f"{i} + {i} = {2 * i}.") for i in range(40)]


@pytest.fixture
def source(write):
    bad = ['{"messages": [}', json.dumps(chat("dup", "x")), json.dumps(chat("Dup ", "x!")), json.dumps(chat("word " * 300, "long"))]
    return write("train.jsonl", jsonl(ROWS + bad))


def recipe(source, out, tokdir, **kw) -> PrepareDataRecipe:
    return PrepareDataRecipe(source=str(source), output=str(out), model=str(tokdir), max_length=256, **kw)


def test_prepare_writes_splits_with_labels_and_a_manifest(source, tmp_path, smollm2_tokenizer_dir, tok):
    import datasets

    out = tmp_path / "prepared"
    phases = []
    result = prepare_dataset(recipe(source, out, smollm2_tokenizer_dir, dedupe="normalized", eval_fraction=0.2),
                             on_progress=lambda phase, done, total, unit: phases.append(phase))
    assert {"reading", "hashing", "writing"} <= set(phases)
    assert result.dropped == {"invalid": 1, "duplicate": 1, "too_long": 1}
    assert (result.rows_in, result.train_rows, result.eval_rows) == (44, 33, 8)

    ds = datasets.load_from_disk(str(out))
    assert set(ds) == {"train", "eval"} and len(ds["train"]) == 33 and len(ds["eval"]) == 8
    row = ds["train"][0]
    record = {"messages": row["messages"]}
    assert record == ROWS[row["source_row"] - 1]
    expected = encode_example(record, tok)
    assert row["input_ids"] == expected["input_ids"] and row["labels"] == expected["labels"]
    assert IGNORE in row["labels"] and row["n_tokens"] == len(row["input_ids"])

    manifest = read_manifest(out)
    assert manifest["source"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert manifest["source"]["path"] == str(source)
    assert manifest["rows"] == {"in": 44, "kept": 41, "train": 33, "eval": 8,
                                "dropped": {"duplicate": 1, "invalid": 1, "too_long": 1}}
    assert manifest["settings"]["dedupe"] == "normalized" and manifest["settings"]["eval_fraction"] == 0.2
    assert manifest["format"]["name"] == "messages" and manifest["template"] == "chat"
    assert manifest["tokenizer"]["vocab_size"] == len(tok) and manifest["tokenizer"]["tokenizer_json_sha256"]
    assert manifest["issues"]["counts"] == {"invalid_json": 1, "too_long": 1}
    assert manifest["stats"]["rows"] == 41 and sum(manifest["histogram"]["counts"]) == 41
    assert not list(tmp_path.glob(".prepared.*"))  # no partial or old folder left beside the output


def test_the_split_is_reproducible(source, tmp_path, smollm2_tokenizer_dir):
    import datasets

    a = prepare_dataset(recipe(source, tmp_path / "a", smollm2_tokenizer_dir, seed=7))
    b = prepare_dataset(recipe(source, tmp_path / "b", smollm2_tokenizer_dir, seed=7))
    rows = lambda name: datasets.load_from_disk(str(tmp_path / name))["eval"]["source_row"]  # noqa: E731
    assert a.eval_rows == b.eval_rows and rows("a") == rows("b")


def test_jsonl_output_with_a_text_template(write, tmp_path, smollm2_tokenizer_dir):
    path = write("qa.csv", "question,answer\n2+2?,4\n3+3?,6\n")
    out = tmp_path / "out"
    result = prepare_dataset(recipe(path, out, smollm2_tokenizer_dir, template="Q: {question}\nA: {answer}",
                                    output_format="jsonl", eval_fraction=0))
    assert result.train_rows == 2
    lines = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert lines[0] == {"prompt": "Q: 2+2?\nA: ", "completion": "4", "n_tokens": lines[0]["n_tokens"], "source_row": 1}
    assert not (out / "eval.jsonl").exists()
    assert read_manifest(out)["template"] == "Q: {question}\nA: {answer}"


def test_an_existing_output_is_not_overwritten_without_asking(source, tmp_path, smollm2_tokenizer_dir):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(WorkbenchError, match="already exists and is not empty"):
        prepare_dataset(recipe(source, out, smollm2_tokenizer_dir))
    assert (out / "keep.txt").exists()
    prepare_dataset(recipe(source, out, smollm2_tokenizer_dir, overwrite=True))
    assert not (out / "keep.txt").exists() and (out / "manifest.json").exists()


def test_cancel_leaves_no_output(source, tmp_path, smollm2_tokenizer_dir):
    def cancel() -> None:
        raise Cancelled()

    with pytest.raises(Cancelled):
        prepare_dataset(recipe(source, tmp_path / "out", smollm2_tokenizer_dir), check_cancelled=cancel)
    assert list(tmp_path.glob("*out*")) == []


def test_job_stage_reports_progress_metrics_and_artifacts(source, tmp_path, smollm2_tokenizer_dir):
    from slm_workbench.engine.runs.context import RunContext
    from slm_workbench.engine.stages import runner_for

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    runner_for("data.prepare")(recipe(source, tmp_path / "out", smollm2_tokenizer_dir), RunContext(run_dir))
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    kinds = {e["kind"] for e in events}
    assert {"progress", "artifact", "warning"} <= kinds
    artifacts = {e["name"]: e["path"] for e in events if e["kind"] == "artifact"}
    assert artifacts["manifest"] == str(tmp_path / "out" / "manifest.json")
    metrics = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert metrics["rows_in"] == 44 and metrics["dropped_invalid"] == 1


def test_recipe_is_a_documented_stage_and_loads_from_yaml(tmp_path):
    from slm_workbench.config.loading import load_recipe
    from slm_workbench.engine.errors import RecipeError

    path = tmp_path / "data.yaml"
    path.write_text("# slmw run data.yaml\nstage: data.prepare\nsource: slmw:demo\noutput: out\neval_fraction: 0.2\n")
    loaded = load_recipe(path)
    assert isinstance(loaded, PrepareDataRecipe) and loaded.eval_fraction == 0.2
    for name, field in PrepareDataRecipe.model_fields.items():
        assert name == "stage" or field.description, f"{name} has no docstring"
    path.write_text("stage: data.prepare\nsource: a\noutput: b\neval_fracton: 0.2\n")
    with pytest.raises(RecipeError, match="eval_fracton: Extra inputs are not permitted"):
        load_recipe(path)


def test_engine_import_is_light():
    import subprocess
    import sys

    code = ("import sys, slm_workbench.engine.data as d; "
            "print(sorted(m for m in ('datasets', 'transformers', 'textual', 'torch', 'pydantic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
