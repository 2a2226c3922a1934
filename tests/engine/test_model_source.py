"""The one model-or-run lookup: what each kind of reference resolves to, and a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_workbench.engine.errors import ModelNotFoundError, WorkbenchError
from slm_workbench.engine.model_source import ANY_SOURCE, resolve_source
from slm_workbench.engine.runs.store import RunStore


@pytest.fixture
def home(slmw_home: Path, tmp_path: Path) -> dict[str, Path]:
    """A prepared model ``mymodel``, a merged run, an adapter-only run over it, an ONNX folder."""
    model = slmw_home / "models" / "mymodel"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    merged = RunStore().create("train", "stage: train\nmodel: mymodel\n")
    (merged / "artifacts" / "merged").mkdir(parents=True)
    (merged / "artifacts" / "merged" / "config.json").write_text("{}")
    adapter = RunStore().create("train", "stage: train\nmodel: mymodel\n")
    (adapter / "artifacts" / "adapter").mkdir(parents=True)
    (adapter / "artifacts" / "adapter" / "adapter_config.json").write_text("{}")
    onnx = tmp_path / "onnx-folder"
    onnx.mkdir()
    (onnx / "genai_config.json").write_text("{}")
    return {"home": slmw_home, "model": model, "merged": merged, "adapter": adapter, "onnx": onnx}


def test_each_kind_of_reference(home: dict[str, Path]) -> None:
    model, merged, adapter = home["model"], home["merged"], home["adapter"]
    table = [  # spec, kind, name, hf_folder, folder (ONNX), and more
        ("mymodel", "model", "mymodel", model, None),
        (str(model), "model", "mymodel", model, None),
        (merged.name, "run", merged.name, merged / "artifacts" / "merged", None),
        (adapter.name, "run", adapter.name, None, None),
        (f"{merged.name}:int4", "variant", merged.name, merged / "artifacts" / "merged", merged / "artifacts" / "onnx-int4"),
        ("mymodel:int8", "variant", "mymodel", model, home["home"] / "variants" / "mymodel" / "int8"),
        (str(home["onnx"]), "onnx", "onnx-folder", None, home["onnx"]),
        ("http://127.0.0.1:9/v1", "endpoint", "http://127.0.0.1:9/v1", None, None),
    ]
    for spec, kind, name, hf_folder, folder in table:
        source = resolve_source(spec, accept=ANY_SOURCE)
        assert (source.kind, source.name, source.hf_folder, source.folder) == (kind, name, hf_folder, folder), spec
    lora = resolve_source(adapter.name)
    assert lora.adapter == adapter / "artifacts" / "adapter" and lora.base_folder == model
    assert resolve_source("mymodel:int8", accept=ANY_SOURCE).variant == "int8"
    assert resolve_source("http://127.0.0.1:9/v1", accept=ANY_SOURCE).url == "http://127.0.0.1:9/v1"


def test_what_a_caller_does_not_accept_is_not_looked_for(home: dict[str, Path]) -> None:
    with pytest.raises(ModelNotFoundError, match="unknown model 'mymodel:int8'"):
        resolve_source("mymodel:int8")  # export and compare take a model or a run


def test_unprepared_models_and_runs_without_a_model(home: dict[str, Path]) -> None:
    with pytest.raises(ModelNotFoundError, match="is not prepared yet"):
        resolve_source("owner/some-model")
    assert resolve_source("owner/some-model", prepared=False).hf_folder is None
    data = RunStore().create("data.prepare", "stage: data.prepare\n")
    with pytest.raises(WorkbenchError, match="has no model"):
        resolve_source(data.name)
    assert resolve_source(data.name, prepared=False).run is not None


@pytest.mark.parametrize("spec", ["no-such-model-or-run", "no-such:int4"])
def test_nonsense_is_one_line(home: dict[str, Path], spec: str) -> None:
    with pytest.raises(ModelNotFoundError) as err:
        resolve_source(spec, accept=ANY_SOURCE)
    assert "\n" not in err.value.message and f"unknown model '{spec.split(':')[0]}'" in err.value.message
    assert "built-in models" in (err.value.hint or "")
