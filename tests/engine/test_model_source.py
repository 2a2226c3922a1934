"""The one model-or-run lookup: what each kind of reference resolves to, and a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_workbench.engine.errors import ModelNotFoundError, WorkbenchError
from slm_workbench.engine.model_source import (ANY_SOURCE, DEPLOY_SOURCE, find_adapter_run, resolve_adapter,
                                               resolve_source, split_adapter)
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
    with pytest.raises(ModelNotFoundError, match="mymodel:int8 names a variant of mymodel; a model or a run is asked"):
        resolve_source("mymodel:int8")  # export and compare take a model or a run
    with pytest.raises(ModelNotFoundError, match="no model or run named 'no-such'"):
        resolve_source("no-such:int8")
    with pytest.raises(ModelNotFoundError, match=f"no such file or folder: {home['home']}/nowhere"):
        resolve_source(str(home["home"] / "nowhere"))  # a path keeps the model lookup's own line


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
    assert err.value.message == f"no model or run named '{spec.split(':')[0]}'"
    assert "slmw models list" in (err.value.hint or "") and "slmw runs list" in (err.value.hint or "")


def _complete_variant(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_text("x")
    (folder / "genai_config.json").write_text('{"model": {"decoder": {"filename": "model.onnx"}}}')
    (folder / "slmw_variant.json").write_text("{}")
    return folder


def test_deploy_names_model_variant_run_and_run_variant(home: dict[str, Path]) -> None:
    """What ``slmw deploy foundry|gguf`` take: the same kinds, named the same, as chat and serve."""
    merged, adapter = home["merged"], home["adapter"]
    for spec, kind, name, variant in [("mymodel", "model", "mymodel", None), ("mymodel:int8", "variant", "mymodel", "int8"),
                                      (merged.name, "run", merged.name, None), (f"{adapter.name}:int4", "variant", adapter.name, "int4")]:
        source = resolve_source(spec, accept=DEPLOY_SOURCE)
        assert (source.kind, source.name, source.variant) == (kind, name, variant), spec
        base = source.without_variant()
        assert base.kind in ("model", "run") and base.variant is None and base.identity == source.identity
        assert base.spec == spec.split(":")[0]
    assert resolve_source(f"{adapter.name}:int4", accept=DEPLOY_SOURCE).adapter == adapter / "artifacts" / "adapter"


def test_a_variant_to_be_built_needs_its_model_prepared_one_built_does_not(home: dict[str, Path]) -> None:
    with pytest.raises(ModelNotFoundError, match="owner/some-model is not prepared yet"):
        resolve_source("owner/some-model:int8", accept=DEPLOY_SOURCE)
    built = _complete_variant(resolve_source("owner/some-model:int8", accept=DEPLOY_SOURCE, prepared=False).folder)
    assert resolve_source("owner/some-model:int8", accept=DEPLOY_SOURCE).folder == built


def test_base_colon_adapter_splits_only_on_an_adapter(home: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "peft"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    adapter_run = home["adapter"].name
    assert split_adapter(f"mymodel:{adapter_run}") == ("mymodel", adapter_run)
    assert split_adapter(f"mymodel:{folder}") == ("mymodel", str(folder))
    assert split_adapter("mymodel:int8") == ("mymodel:int8", None)  # a variant stays a variant
    assert split_adapter(f"mymodel:{home['merged'].name}") == (f"mymodel:{home['merged'].name}", None)  # no adapter
    assert resolve_adapter(adapter_run) == home["adapter"] / "artifacts" / "adapter"
    with pytest.raises(ModelNotFoundError, match="no LoRA adapter at nope-nope"):
        resolve_adapter("nope-nope")


def test_an_adapter_name_is_one_run_lookup_and_one_refusal(home: dict[str, Path], tmp_path: Path) -> None:
    """An ONNX adapter base's adapter name: the serve path (``adapters.lora.adapter_file``) and the bench's
    launch check (tests/engine/deploy/test_bench_launch_check.py) look the run up here and refuse a name
    that is nothing with the same line."""
    from slm_workbench.engine.adapters.lora import ADAPTER_SUFFIX, adapter_file

    assert find_adapter_run(home["adapter"].name).dir == home["adapter"]
    with pytest.raises(ModelNotFoundError) as missing:
        find_adapter_run("nope-nope")
    assert missing.value.message.startswith("no adapter named nope-nope (") and ADAPTER_SUFFIX in missing.value.message
    with pytest.raises(ModelNotFoundError) as from_serve:
        adapter_file("nope-nope", tmp_path)
    assert (from_serve.value.message, from_serve.value.hint) == (missing.value.message, missing.value.hint)


def test_every_caller_names_things_through_the_one_resolver(home: dict[str, Path]) -> None:
    """Packages, GGUF, chat and serve: the same name is the same weights, and the same line for nonsense."""
    from slm_workbench.engine.chat.locate import resolve_target
    from slm_workbench.engine.deploy.foundry.source import resolve_package_source
    from slm_workbench.engine.deploy.gguf.stage import resolve_gguf_source

    merged = home["merged"].name
    package = resolve_package_source(f"{merged}:int8")
    assert (package.source.kind, package.source.name, package.variant, package.chosen_by) == ("run", merged, "int8", "named")
    assert package.variant_dir == home["merged"] / "artifacts" / "onnx-int8"
    assert resolve_package_source("mymodel:int4").source.identity == ("model", "mymodel")
    assert resolve_gguf_source(merged).identity == ("run", merged)
    with pytest.raises(WorkbenchError, match=f"names an ONNX variant.*give {merged}"):
        resolve_gguf_source(f"{merged}:int8")
    assert resolve_target(merged).folder == home["merged"] / "artifacts" / "merged"
    assert resolve_target(f"{merged}:int8").folder == package.variant_dir
    callers = {"package": resolve_package_source, "gguf": resolve_gguf_source, "chat/serve": resolve_target}
    for what, call in callers.items():
        for spec in ("no-such-thing", "no-such-thing:int8"):
            with pytest.raises(ModelNotFoundError) as err:
                call(spec)
            assert err.value.message == "no model or run named 'no-such-thing'", (what, spec)
