"""On a fresh home without the built-in model, every command that needs it prepares it first (a
``models.prepare`` job, followed) and goes on; export and compare leave it to their job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from slm_workbench.cli.main import main
from slm_workbench.engine.models.builtin import DEFAULT_MODEL
from slm_workbench.engine.runs.store import RunStore
from tests.helpers import fast_model_prepare


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch, smollm2_dir: Path) -> None:
    fast_model_prepare(monkeypatch, smollm2_dir)


def stages() -> list[str]:
    return sorted(r.stage for r in RunStore().list())


def prepared(home: Path) -> bool:
    return (home / "models" / DEFAULT_MODEL / "config.json").is_file()


def test_chat_prepares_then_answers(capsys: pytest.CaptureFixture[str], slmw_home: Path) -> None:
    code = main(["chat", DEFAULT_MODEL, "--prompt", "Hi", "--max-new-tokens", "2", "--threads", "1"])
    out, err = capsys.readouterr()
    assert code == 0 and out.strip()
    assert f"· preparing {DEFAULT_MODEL} (job " in err and f"· {DEFAULT_MODEL} prepared" in err
    assert stages() == ["models.prepare"] and prepared(slmw_home)


def test_data_validate_with_the_model_prepares_then_validates(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                               slmw_home: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}) + "\n")
    code = main(["data", "validate", str(data), "--model", DEFAULT_MODEL, "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["ok"] is True
    assert "preparing" not in err  # --json: quiet
    assert stages() == ["models.prepare"] and prepared(slmw_home)


def test_train_estimate_prepares_then_estimates(capsys: pytest.CaptureFixture[str], slmw_home: Path) -> None:
    code = main(["train", "smoke-lora", "--estimate", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0 and json.loads(out)
    assert stages() == ["models.prepare"] and prepared(slmw_home)


@pytest.mark.parametrize("command", ["export", "compare"])
def test_export_and_compare_start_their_job_which_prepares_it(command: str, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch, slmw_home: Path) -> None:
    from slm_workbench.cli import export_cmd

    started: list = []
    monkeypatch.setattr(export_cmd, "_run", lambda recipe, title, args, artifact: started.append((recipe, title)) or None)
    assert main([command, f"{DEFAULT_MODEL}:int4", "--detach"]) == 0
    ((recipe, title),) = started
    assert recipe.model == DEFAULT_MODEL and recipe.variants == ["int4"] and title.startswith(f"{command} {DEFAULT_MODEL}")
    assert stages() == [] and not prepared(slmw_home)  # the job prepares it, inline


def test_the_job_prepares_it_then_goes_on(monkeypatch: pytest.MonkeyPatch, smollm2_dir: Path, slmw_home: Path) -> None:
    """export's and compare's first step: the model is prepared inline, then the source resolves."""
    import shutil

    from slm_workbench.config.export import CompareRecipe, ExportRecipe
    from slm_workbench.engine.compare import stage as compare_stage
    from slm_workbench.engine.export import stage as export_stage
    from slm_workbench.engine.models import prepare
    from slm_workbench.engine.runs.context import RunContext

    monkeypatch.setattr(prepare, "convert_gguf", lambda gguf, folder, **_: shutil.copytree(smollm2_dir, folder))
    went_on: list[Path] = []

    def next_step(source, *args, **kwargs):
        went_on.append(source.hf_folder)
        raise StopIteration

    monkeypatch.setattr(export_stage, "export_variants", next_step)
    monkeypatch.setattr(compare_stage, "variants_to_compare", next_step)
    for stage, recipe in ((export_stage, ExportRecipe(model=DEFAULT_MODEL, variants=["int4"])),
                          (compare_stage, CompareRecipe(model=DEFAULT_MODEL, variants=["int4"]))):
        shutil.rmtree(slmw_home / "models" / DEFAULT_MODEL, ignore_errors=True)
        ctx = RunContext(RunStore().create(recipe.stage, yaml.safe_dump(recipe.model_dump())))
        with pytest.raises(StopIteration):
            stage.run(recipe, ctx)
    assert went_on == [slmw_home / "models" / DEFAULT_MODEL] * 2


def test_demo_starts_one_preparation_and_joins_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  slmw_home: Path) -> None:
    from slm_workbench.cli.demo_cmd import ensure_default_model_job
    from tests.helpers import wait_for_state

    monkeypatch.setenv("SLMW_TEST_HOLD", str(tmp_path / "release"))
    first = ensure_default_model_job()
    assert first is not None and ensure_default_model_job() == first  # running: joined, not started again
    (tmp_path / "release").touch()
    wait_for_state(RunStore().resolve(first), "done", timeout=120)
    assert ensure_default_model_job() is None and prepared(slmw_home)
