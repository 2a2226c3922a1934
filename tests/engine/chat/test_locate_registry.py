"""What a chat target names, and backends as lazily imported plugins."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from slm_workbench.engine.chat import registry
from slm_workbench.engine.chat.locate import resolve_adapter, resolve_target
from slm_workbench.engine.chat.types import ChatBackend
from slm_workbench.engine.errors import ModelNotFoundError, WorkbenchError
from slm_workbench.engine.runs.store import RunStore

from .conftest import ScriptedBackend


def make_run(artifacts: dict[str, dict[str, str]], recipe: str = "stage: train\nmodel: smollm2-135m-instruct\n") -> Path:
    run = RunStore().create("train", recipe)
    for folder, files in artifacts.items():
        (run / "artifacts" / folder).mkdir(parents=True)
        for name, text in files.items():
            (run / "artifacts" / folder / name).write_text(text)
    return run


def test_models_variants_folders_and_urls(prepared_home: Path, tmp_path: Path) -> None:
    model = resolve_target("smollm2-135m-instruct")
    assert model.kind == "transformers" and model.folder == prepared_home / "models" / "smollm2-135m-instruct"
    variant = resolve_target("smollm2-135m-instruct:int4")
    assert variant.kind == "onnx" and variant.variant == "int4"
    assert variant.folder == prepared_home / "variants" / "smollm2-135m-instruct" / "int4"
    (tmp_path / "genai_config.json").write_text("{}")
    assert resolve_target(str(tmp_path)).kind == "onnx"
    assert resolve_target("http://127.0.0.1:9/v1").kind == "http"


def test_runs_chat_through_their_artifacts(prepared_home: Path) -> None:
    adapter_only = make_run({"adapter": {"adapter_config.json": "{}"}})
    target = resolve_target(adapter_only.name)
    assert target.kind == "transformers" and target.adapter == adapter_only / "artifacts" / "adapter"
    assert target.folder == prepared_home / "models" / "smollm2-135m-instruct"  # the base, from recipe.yaml
    merged = make_run({"merged": {"config.json": "{}"}, "adapter": {"adapter_config.json": "{}"}})
    assert resolve_target(merged.name).folder == merged / "artifacts" / "merged"
    assert resolve_target(f"{merged.name}:int8").folder == merged / "artifacts" / "onnx-int8"
    assert resolve_adapter(adapter_only.name) == adapter_only / "artifacts" / "adapter"
    with pytest.raises(ModelNotFoundError, match="no LoRA adapter"):
        resolve_adapter(merged.name + "x")


def test_unknown_targets_say_so(slmw_home: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no model or run named 'no-such-model'"):
        resolve_target("no-such-model")


def test_missing_variant_without_build_names_the_command(slmw_home: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(WorkbenchError, match="not built yet"):
        registry.open_backend(f"{tiny_model_dir}:int4", build=False)


def test_backends_are_lazy_plugins() -> None:
    code = ("import sys; from slm_workbench.engine.chat import registry, session, compare, history;"
            "print(','.join(m for m in ('torch', 'transformers', 'onnxruntime_genai', 'peft') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    with pytest.raises(WorkbenchError, match="no chat backend 'nope'"):
        registry.backend_class("nope")


class PluginBackend(ScriptedBackend):
    def __init__(self, where: str, **options: object) -> None:
        super().__init__(["plugged"], label=where)
        self.options = options


def test_a_registered_plugin_is_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BACKENDS, "http", f"{__name__}:PluginBackend")
    backend = registry.open_backend("http://127.0.0.1:9/v1", endpoint_model="m", api_key_env="MY_KEY")
    assert isinstance(backend, ChatBackend) and backend.label == "http://127.0.0.1:9/v1"
    assert backend.options == {"model": "m", "api_key_env": "MY_KEY"}
