"""The run object answers every question about a run's files, and a missing file reads as absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.engine.errors import ModelNotFoundError, RunNotFoundError, WorkbenchError
from slm_workbench.engine.models.variants import VariantSet
from slm_workbench.engine.runs.run import Run
from slm_workbench.engine.runs.store import RunStore


def _folder(path: Path, *files: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name in files:
        (path / name).write_text("{}", encoding="utf-8")
    return path


def _variant(path: Path) -> Path:
    """A complete variant folder: genai_config.json naming model.onnx, model.onnx, slmw_variant.json (last)."""
    _folder(path, "model.onnx", "slmw_variant.json")
    (path / "genai_config.json").write_text('{"model": {"decoder": {"filename": "model.onnx"}}}', encoding="utf-8")
    return path


@pytest.fixture
def train_run(slmw_home: Path, tmp_path: Path) -> Run:
    run_dir = RunStore().create("train", "stage: train\nmodel: some-base\n", title="t")
    return Run(run_dir)


def test_a_fresh_run_has_nothing_yet(train_run: Run) -> None:
    assert train_run.stage == "train" and train_run.spec is not None and train_run.spec.resumable
    assert train_run.recipe_data() == {"stage": "train", "model": "some-base"}
    assert train_run.lineage == {}
    assert train_run.model_folder() is None and train_run.adapter() is None and not train_run.has_model
    assert train_run.tokenizer_folder() is None and train_run.report() is None
    assert train_run.variants.built() == {} and train_run.packages() == {} and train_run.datasets() == []
    with pytest.raises(WorkbenchError, match=f"run {train_run.id} has no model"):
        train_run.require_model()


def test_model_adapter_lineage_and_base(train_run: Run, tmp_path: Path) -> None:
    base = _folder(tmp_path / "base", "config.json")
    data = _folder(tmp_path / "prepared")
    _folder(train_run.artifact("adapter"), "adapter_config.json", "tokenizer_config.json")
    train_run.lineage_path.write_text(json.dumps({"base_model": {"folder": str(base)}, "data": {"folder": str(data)}}))
    run = Run(train_run.dir)  # the lineage is read once per object
    assert run.adapter() == run.artifacts_dir / "adapter" and run.model_folder() is None and run.has_model
    assert run.base_model() == base and run.eval_dataset() == data and run.datasets() == [data]
    assert run.tokenizer_folder() == run.adapter()
    _folder(run.merged_dir, "config.json")
    assert run.model_folder() == run.merged_dir  # merged is preferred to the adapter for a whole model


def test_full_model_and_a_base_missing_from_the_lineage(train_run: Run) -> None:
    _folder(train_run.artifact("model"), "config.json")
    assert train_run.model_folder() == train_run.artifacts_dir / "model"
    with pytest.raises(ModelNotFoundError, match="some-base"):
        train_run.base_model()  # the recipe's model is not prepared in this home


def test_a_corrupt_lineage_reads_as_empty(train_run: Run) -> None:
    train_run.lineage_path.write_text("{not json")
    assert Run(train_run.dir).lineage == {} and Run(train_run.dir).eval_dataset() is None


def test_variants_reports_and_packages(train_run: Run) -> None:
    _variant(train_run.variants.dir("int4"))
    _folder(train_run.variants.dir("int8"))  # not built: no genai_config.json
    _folder(train_run.variants.dir("int8-hq"), "genai_config.json")  # half-written: no model file, no marker
    assert train_run.variants.built() == {"int4": train_run.artifacts_dir / "onnx-int4"}
    train_run.report_path("json").write_text("{}")
    assert train_run.report() == train_run.artifacts_dir / "report.json" and train_run.report("csv") is None
    _folder(train_run.artifact("packages") / "foundry-x")
    assert list(train_run.packages()) == ["foundry-x"]


def test_model_variants_live_outside_runs(slmw_home: Path) -> None:
    variants = VariantSet.of_model("m")
    assert variants.dir("int8") == slmw_home / "variants" / "m" / "int8"
    _variant(variants.dir("int8"))
    _variant(variants.root / ".int4.partial-123")  # a writer's folder beside it is never a variant
    assert variants.built() == {"int8": variants.dir("int8")}


def test_a_data_run_names_the_dataset_it_wrote(slmw_home: Path, tmp_path: Path) -> None:
    out = _folder(tmp_path / "out")
    run = Run(RunStore().create("data.prepare", f"stage: data.prepare\nsource: x.jsonl\noutput: {out}\n"))
    assert run.stage == "data.prepare" and run.datasets() == [out] and not run.spec.produces_model


def test_finding_runs(train_run: Run) -> None:
    assert Run.find(train_run.id[-6:]) == train_run and Run.get(train_run.id[:18]) == train_run
    assert Run.find("no-such-run") is None and Run.find("ab") is None
    with pytest.raises(RunNotFoundError):
        Run.get("no-such-run")


def test_an_unreadable_recipe_reads_as_empty_and_validating_it_names_the_file(train_run: Run) -> None:
    from slm_workbench.engine.errors import RecipeError

    train_run.recipe_path.write_text("stage: [unclosed\n")
    assert train_run.recipe_data() == {}
    with pytest.raises(RecipeError, match="recipe.yaml"):
        train_run.recipe()


def test_metrics_events_and_log_are_read_through_the_run(train_run: Run) -> None:
    from slm_workbench.engine.events import Error, Progress
    from slm_workbench.engine.runs.context import RunContext

    assert train_run.metrics() == [] and train_run.metrics(last=3) == [] and train_run.events() == []
    assert train_run.last_error() is None and train_run.log_lines(5) == []
    ctx = RunContext(train_run.dir)
    for step in range(1, 6):
        ctx.metrics({"step": step, "loss": 1.0 / step})
    with open(train_run.metrics_path, "a", encoding="utf-8") as fh:
        fh.write("not json\n[1, 2]\n")  # lines that do not decode are left out, never raised
    ctx.progress("training", 1, 2)
    ctx.emit(Error(message="boom", hint="h"))
    train_run.log_path.write_text("one\ntwo\nthree\n", encoding="utf-8")

    assert [row["step"] for row in train_run.metrics()] == [1, 2, 3, 4, 5]
    assert all("time" in row for row in train_run.metrics())
    assert [row["step"] for row in train_run.metrics(last=4)] == [4, 5]  # the last 4 lines, two of them bad
    assert isinstance(train_run.events()[0], Progress) and train_run.last_error().message == "boom"
    assert [type(e) for e in train_run.recent_events(1)] == [Error]
    assert train_run.log_lines(2) == ["two", "three"]
    assert train_run.status().stage == "train"

    metrics, events, log = train_run.tail_metrics(), train_run.tail_events(), train_run.tail_log()
    assert len(metrics.read_new()) == 7 and len(events.read_new()) == 2 and log.read_new() == ["one", "two", "three"]
    ctx.metrics({"step": 6})
    assert [row["step"] for row in metrics.read_new()] == [6]  # only what was appended since
    assert events.read_new() == [] and log.read_new() == []
