"""GGUF inspection on the real built-in file, and conversion failures that must leave nothing behind.

Conversion tests stand the tiny model in for what transformers reads out of the GGUF (the real
read takes ~30 s); everything convert_gguf does around it (space check, writing aside,
stripping the GGUF quantizer, verifying, moving into place, cleaning up) runs for real.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
from collections import namedtuple
from pathlib import Path

import pytest

from slm_workbench.engine.errors import ModelFormatError, ModelNotFoundError, StorageError
from slm_workbench.engine import fsutil
from slm_workbench.engine.models import gguf_convert
from slm_workbench.engine.models.builtin import BUILTIN_MODELS, DEFAULT_MODEL
from slm_workbench.engine.models.gguf_convert import convert_gguf, inspect_gguf
from slm_workbench.engine.models.prepare import prepare_model
from slm_workbench.engine.models.resolve import parse_model

DiskUsage = namedtuple("DiskUsage", "total used free")


@pytest.fixture(scope="module")
def builtin_gguf() -> Path:
    return BUILTIN_MODELS[DEFAULT_MODEL].gguf_path()


@pytest.fixture(scope="module")
def real_summary(builtin_gguf: Path) -> gguf_convert.GgufSummary:
    return inspect_gguf(builtin_gguf)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock"))


def test_inspect_the_builtin_gguf(real_summary, builtin_gguf):
    assert real_summary.architecture == "llama"
    assert real_summary.tensors == 272
    assert real_summary.parameters == pytest.approx(134.5e6, rel=0.01)
    assert real_summary.file_bytes == builtin_gguf.stat().st_size


def test_inspect_a_file_that_is_not_gguf(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_text("<html>404 Not Found</html>")
    with pytest.raises(ModelFormatError) as exc:
        inspect_gguf(fake)
    assert str(fake) in exc.value.message and "not a GGUF file" in exc.value.message


@pytest.mark.parametrize("cut", ["first 2 MB", "all but the last 1 MB", "magic only"])
def test_inspect_a_truncated_gguf(tmp_path, builtin_gguf, cut):
    data = builtin_gguf.read_bytes()
    part = {"first 2 MB": data[: 2 * 2**20], "all but the last 1 MB": data[: -(2**20)], "magic only": data[:4]}[cut]
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(part)
    with pytest.raises(ModelFormatError) as exc:
        inspect_gguf(truncated)
    assert str(truncated) in exc.value.message and "truncated" in exc.value.message
    assert "\n" not in exc.value.message


def test_inspect_missing_file_and_folder(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no such file"):
        inspect_gguf(tmp_path / "absent.gguf")
    with pytest.raises(ModelFormatError, match="not a file"):
        inspect_gguf(tmp_path)


@pytest.fixture
def tiny_gguf(monkeypatch, tiny_model_dir, real_summary, builtin_gguf):
    """The built-in GGUF path, with transformers' GGUF reads answered by the tiny model."""
    import transformers

    real_tokenizer = transformers.AutoTokenizer.from_pretrained
    real_model = transformers.AutoModelForCausalLM.from_pretrained

    def tokenizer(path, *args, gguf_file=None, **kwargs):
        return real_tokenizer(tiny_model_dir if gguf_file else path, *args, **kwargs)

    def model(path, *args, gguf_file=None, **kwargs):
        loaded = real_model(tiny_model_dir, *args, **kwargs)
        loaded.config.quantization_config = {"quant_method": "gguf"}  # what a GGUF load leaves behind
        return loaded

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", tokenizer)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", model)
    monkeypatch.setattr(gguf_convert, "inspect_gguf", lambda path: dataclasses.replace(real_summary, path=Path(path)))
    return builtin_gguf


@pytest.fixture
def previous(slmw_home) -> Path:
    """A model folder prepared earlier, which a failed conversion must leave as it was."""
    folder = slmw_home / "models" / "converted"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "llama", "previous": true}')
    return folder


def test_convert_writes_a_clean_hf_folder(tiny_gguf, slmw_home):
    out = slmw_home / "models" / "converted"
    phases: list[str] = []
    assert convert_gguf(tiny_gguf, out, display_name="converted", on_phase=lambda p, d, t: phases.append(p)) == out

    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config
    assert list(out.glob("*.safetensors")) and (out / "tokenizer.json").is_file()
    provenance = json.loads((out / gguf_convert.PROVENANCE_FILE).read_text())
    assert provenance["source"] == str(tiny_gguf) and provenance["converted_from"] == "gguf"
    assert phases[0] == "checking the GGUF file" and phases[-1] == "done"
    assert leftovers(out.parent) == []


def test_convert_replaces_a_previous_folder(tiny_gguf, previous):
    convert_gguf(tiny_gguf, previous, display_name="converted")
    assert "previous" not in json.loads((previous / "config.json").read_text())
    assert leftovers(previous.parent) == []


def test_not_enough_disk_is_a_storage_error_before_any_write(tiny_gguf, slmw_home, monkeypatch):
    out = slmw_home / "models" / "converted"
    monkeypatch.setattr(gguf_convert.shutil, "disk_usage", lambda path: DiskUsage(10**9, 10**9 - 10**6, 10**6))
    with pytest.raises(StorageError) as exc:
        convert_gguf(tiny_gguf, out, display_name="converted")
    assert "not enough free disk" in exc.value.message and str(out.parent) in exc.value.message
    assert not out.exists() and leftovers(out.parent) == []


def test_disk_full_while_writing_weights(tiny_gguf, previous, monkeypatch):
    import transformers.modeling_utils

    def full_disk(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"\0" * 4096)  # half a file, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename)

    monkeypatch.setattr(transformers.modeling_utils, "safe_save_file", full_disk)
    with pytest.raises(StorageError) as exc:
        convert_gguf(tiny_gguf, previous, display_name="converted")
    assert str(previous) in exc.value.message and "no space left on device" in exc.value.message
    assert leftovers(previous.parent) == []
    assert json.loads((previous / "config.json").read_text())["previous"] is True


def test_failure_moving_into_place_keeps_the_previous_folder(tiny_gguf, previous, monkeypatch):
    real_replace = os.replace

    def replace(src, dst):
        if Path(src).name.startswith(f".{previous.name}.partial-"):
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(src))
        return real_replace(src, dst)

    monkeypatch.setattr(fsutil.os, "replace", replace)
    with pytest.raises(StorageError) as exc:
        convert_gguf(tiny_gguf, previous, display_name="converted")
    assert str(previous) in exc.value.message
    monkeypatch.undo()
    assert json.loads((previous / "config.json").read_text())["previous"] is True
    assert leftovers(previous.parent) == []


def test_unwritable_home_is_one_clear_storage_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the home folder should be")
    monkeypatch.setenv("SLMW_HOME", str(blocker / "home"))
    with pytest.raises(StorageError) as exc:
        prepare_model(parse_model(DEFAULT_MODEL))
    message = str(exc.value)
    assert message.startswith(f"cannot write the workbench models folder {blocker / 'home' / 'models'}")
    assert "SLMW_HOME" in message and "\n" not in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permissions")
def test_read_only_home_is_one_clear_storage_error(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir(mode=0o500)
    monkeypatch.setenv("SLMW_HOME", str(home))
    with pytest.raises(StorageError, match="permission denied"):
        prepare_model(parse_model(DEFAULT_MODEL))


def test_prepare_removes_stale_partials_and_keeps_a_prepared_folder(slmw_home):
    ref = parse_model(DEFAULT_MODEL)
    ref.folder.mkdir(parents=True)
    (ref.folder / "config.json").write_text("{}")
    stale = ref.folder.parent / f".{ref.folder.name}.partial-999999999"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"\0")
    phases: list[str] = []
    assert prepare_model(ref, on_phase=lambda p, d, t: phases.append(p)) == ref.folder
    assert phases == ["already prepared"]
    assert not stale.exists()


# The real SmolLM2, converted once per cache (the session fixture ``smollm2_dir``).


@pytest.mark.e2e
def test_converted_tokenizer_adds_no_bos_and_ends_turns_with_im_end(smollm2_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    ids = tokenizer("hi").input_ids
    assert ids and ids[0] != tokenizer.bos_token_id
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.chat_template


@pytest.mark.e2e
def test_converted_config_has_no_quantization_config(smollm2_dir):
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["architectures"] == ["LlamaForCausalLM"] and config["num_hidden_layers"] == 30
    assert not leftovers(smollm2_dir.parent)


@pytest.mark.e2e
def test_converted_model_knows_the_capital_of_france(smollm2_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True, return_tensors="pt", return_dict=True,
    )
    with torch.inference_mode():
        out = model.generate(**prompt, max_new_tokens=20, do_sample=False)
    answer = tokenizer.decode(out[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer
