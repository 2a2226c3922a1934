"""The launch check: a job that would not fit in memory, the model's context or the disk is refused
before it starts, naming the knobs or the space; ``force`` lets a memory or disk refusal through."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path

import pytest

from slm_workbench.config.export import ExportRecipe
from slm_workbench.config.recipes import PrepareDataRecipe, SystemCheckRecipe
from slm_workbench.config.train import TrainRecipe
from slm_workbench.engine import system
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.preflight import check_launch, disk
from slm_workbench.engine.runs import launcher, store
from slm_workbench.engine.train import memory

GIB = 2**30
Usage = namedtuple("Usage", "total used free")


@pytest.fixture
def small_machine(monkeypatch):
    """A CPU-only machine with 0.5 GiB of RAM free."""
    monkeypatch.setattr(system, "gpus", lambda: [])
    monkeypatch.setattr(memory, "available_memory", lambda device: 0.5 * GIB)


def disk_with(monkeypatch, free: int) -> None:
    monkeypatch.setattr(disk.shutil, "disk_usage", lambda path: Usage(100 * GIB, 100 * GIB - free, free))


def big_recipe(model: Path, **fields) -> TrainRecipe:
    return TrainRecipe(model=str(model), data="slmw:demo", method="full", batch_size=64, max_length=512, **fields)


def test_memory_refusal_names_the_knobs_that_help(tiny_model_dir, small_machine) -> None:
    with pytest.raises(WorkbenchError) as refused:
        check_launch(big_recipe(tiny_model_dir))
    error = refused.value
    assert "needs about" in error.message and "0.5 GiB is free on cpu" in error.message
    assert "batch_size: 32 with grad_accum: 2" in error.hint and "method: lora" in error.hint
    assert "max_length: " in error.hint and "--force starts it anyway" in error.hint


def test_the_max_length_hint_is_one_that_fits(tiny_model_dir, small_machine) -> None:
    recipe = TrainRecipe(model=str(tiny_model_dir), data="y", method="lora", batch_size=8, max_length=512)
    estimate = memory.estimate_memory(recipe, tiny_model_dir, device="cpu", available=1.2 * GIB)
    assert estimate.fits is False
    hint = next(h for h in estimate.hints if h.startswith("max_length: "))
    length = int(hint.split()[1])
    assert length == 128 and "fits by the estimate" in hint  # 256 does not
    assert memory.estimate_memory(recipe.model_copy(update={"max_length": length}), tiny_model_dir,
                                  device="cpu", available=1.2 * GIB).fits


def test_force_lets_a_memory_refusal_through_as_a_warning(tiny_model_dir, small_machine, monkeypatch) -> None:
    launched = []
    monkeypatch.setattr(launcher, "launch", launched.append)
    with pytest.raises(WorkbenchError):
        launcher.start_recipe(big_recipe(tiny_model_dir))
    assert store.RunStore().list() == []  # refused: no run directory either

    run_dir = launcher.start_recipe(big_recipe(tiny_model_dir), force=True)

    assert launched == [run_dir]
    assert "[preflight] warning: this train job needs about" in (run_dir / store.LOG).read_text()
    assert any("this train job needs about" in e.summary() for e in store.read_events(run_dir) if e.kind == "warning")
    assert "(started anyway: forced)" in check_launch(big_recipe(tiny_model_dir), force=True)[0]


def test_max_length_beyond_the_model_context_is_an_error_even_forced(tiny_model_dir) -> None:
    recipe = TrainRecipe(model=str(tiny_model_dir), data="slmw:demo", max_length=131072)
    for force in (False, True):
        with pytest.raises(WorkbenchError, match=r"max_length 131072 is beyond the context .* \(512 tokens"):
            check_launch(recipe, force=force)


def test_a_recipe_that_fits_passes_without_warnings(tiny_model_dir) -> None:
    assert check_launch(TrainRecipe(model=str(tiny_model_dir), data="slmw:demo", max_length=256)) == []
    assert check_launch(SystemCheckRecipe(seconds=1)) == []


def test_low_disk_refuses_an_export_naming_space_and_folder(tiny_model_dir, slmw_home, monkeypatch) -> None:
    disk_with(monkeypatch, 2 * 10**6)
    recipe = ExportRecipe(model=str(tiny_model_dir), variants=["int8"])
    with pytest.raises(WorkbenchError) as refused:
        check_launch(recipe)
    message = refused.value.message
    assert f"not enough disk space for this export job in {slmw_home}" in message
    assert "(int8), 2.0 MB free" in message and "free some space" in refused.value.hint
    assert check_launch(recipe, force=True)  # forced: a warning, not a refusal
    disk_with(monkeypatch, 10 * GIB)
    assert check_launch(recipe) == []


def test_low_disk_refuses_training_with_its_checkpoints_counted(tiny_model_dir, monkeypatch) -> None:
    disk_with(monkeypatch, 10**6)
    recipe = TrainRecipe(model=str(tiny_model_dir), data="slmw:demo", method="full", max_length=256,
                         save_total_limit=3)
    with pytest.raises(WorkbenchError, match=r"this train job .* \(4 checkpoints \+ artifacts\), 1\.0 MB free"):
        check_launch(recipe)


def test_low_disk_refuses_data_preparation(tmp_path, monkeypatch) -> None:
    source = tmp_path / "rows.jsonl"
    source.write_text('{"text": "hello"}\n' * 2000)
    disk_with(monkeypatch, 10**4)
    with pytest.raises(WorkbenchError, match=r"this data.prepare job in .*the prepared dataset"):
        check_launch(PrepareDataRecipe(source=str(source), output=str(tmp_path / "out")))


def test_exporting_a_lora_run_counts_the_merged_model_in_the_run(slmw_home, tiny_model_dir) -> None:
    import json

    from slm_workbench.engine.export.stage import export_needs
    from slm_workbench.engine.runs.run import Run
    from slm_workbench.engine.runs.store import RunStore

    run = Run(RunStore().create("train", "stage: train\n"))
    run.artifact("adapter").mkdir()
    (run.artifact("adapter") / "adapter_config.json").write_text("{}")
    run.lineage_path.write_text(json.dumps({"base_model": {"folder": str(tiny_model_dir)}}))
    needs = export_needs(run.id, ["int8"])
    assert [(n.folder, n.what) for n in needs] == [(run.dir, "the merged model"), (run.artifacts_dir, "int8")]
    assert needs[0].bytes > needs[1].bytes > 0  # fp32 merged weights, then the 8-bit variant
