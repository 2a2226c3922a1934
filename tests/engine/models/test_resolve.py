"""Model references: what each kind of spec resolves to, and one clear error for each bad one."""

from __future__ import annotations

from pathlib import Path

import pytest

from slm_workbench.engine import paths
from slm_workbench.engine.errors import ModelFormatError, ModelNotFoundError
from slm_workbench.engine.models.builtin import BUILTIN_MODELS, DEFAULT_MODEL
from slm_workbench.engine.models.resolve import parse_model, prepared_models, resolve_folder


def hf_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text('{"model_type": "llama"}')
    return path


def test_builtin_name(slmw_home):
    ref = parse_model(DEFAULT_MODEL)
    assert (ref.kind, ref.name) == ("builtin", DEFAULT_MODEL)
    assert ref.source == BUILTIN_MODELS[DEFAULT_MODEL].distribution
    assert ref.folder == slmw_home / "models" / DEFAULT_MODEL
    assert not ref.prepared


def test_no_spec_means_the_default_model():
    assert parse_model(None).name == parse_model("").name == DEFAULT_MODEL


def test_hf_folder(tmp_path):
    folder = hf_folder(tmp_path / "My Model")
    ref = parse_model(str(folder))
    assert (ref.kind, ref.name, ref.folder, ref.prepared) == ("folder", "My Model", folder, True)
    assert resolve_folder(str(folder)) == folder


def test_gguf_file(slmw_home, tmp_path):
    gguf = tmp_path / "Tiny Model.Q4_0.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 28)
    ref = parse_model(str(gguf))
    assert (ref.kind, ref.source) == ("gguf", str(gguf))
    assert ref.name == "tiny-model.q4_0"
    assert ref.folder == slmw_home / "models" / ref.name


def test_gguf_recognised_by_magic_without_the_suffix(tmp_path):
    blob = tmp_path / "weights.bin"
    blob.write_bytes(b"GGUF" + b"\0" * 28)
    assert parse_model(str(blob)).kind == "gguf"


def test_the_builtin_gguf_itself():
    path = BUILTIN_MODELS[DEFAULT_MODEL].gguf_path()
    assert path.is_file() and path.suffix == ".gguf"
    assert parse_model(str(path)).kind == "gguf"


def test_hub_id(slmw_home):
    ref = parse_model("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert (ref.kind, ref.source) == ("hub", "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert ref.folder == slmw_home / "models" / "hub--HuggingFaceTB--SmolLM2-135M-Instruct"


def test_a_folder_prepared_under_home_by_name(slmw_home):
    hf_folder(slmw_home / "models" / "my-finetune")
    ref = parse_model("my-finetune")
    assert (ref.kind, ref.folder) == ("folder", slmw_home / "models" / "my-finetune")
    names = [r.name for r in prepared_models()]
    assert names == [*BUILTIN_MODELS, "my-finetune"]


def test_prepared_models_skip_partials_and_folders_without_config(slmw_home):
    hf_folder(slmw_home / "models" / f".{DEFAULT_MODEL}.partial-123")
    (slmw_home / "models" / "empty").mkdir()
    assert [r.name for r in prepared_models()] == list(BUILTIN_MODELS)


def test_unknown_name_is_named_with_the_builtins_as_hint():
    with pytest.raises(ModelNotFoundError) as exc:
        parse_model("gpt-17-ultra")
    assert exc.value.message == "unknown model 'gpt-17-ultra'"
    assert DEFAULT_MODEL in exc.value.hint


@pytest.mark.parametrize("spec", ["/no/such/model.gguf", "./missing-folder", "models/a/b"])
def test_missing_path(spec):
    with pytest.raises(ModelNotFoundError, match="no such file or folder") as exc:
        parse_model(spec)
    assert Path(spec).name in exc.value.message


def test_folder_without_config_json(tmp_path):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "weights.gguf").write_bytes(b"GGUF")
    with pytest.raises(ModelFormatError) as exc:
        parse_model(str(folder))
    assert str(folder) in exc.value.message and "config.json" in exc.value.message
    assert "weights.gguf" in exc.value.hint


def test_file_that_is_neither_folder_nor_gguf(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ModelFormatError, match="neither a model folder nor a GGUF"):
        parse_model(str(text))


def test_builtin_not_prepared_names_the_prepare_command():
    with pytest.raises(ModelNotFoundError) as exc:
        resolve_folder(DEFAULT_MODEL)
    assert f"slmw models prepare {DEFAULT_MODEL}" in exc.value.hint


def test_prepared_builtin(prepared_home):
    assert resolve_folder(DEFAULT_MODEL) == paths.models_dir() / DEFAULT_MODEL
    assert parse_model(DEFAULT_MODEL).prepared
