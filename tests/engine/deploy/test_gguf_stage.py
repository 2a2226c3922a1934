"""``deploy.gguf``: which writer handles which model, the refusals, and real jobs through the CLI
(a LoRA run on a GGUF-origin base, merged and read back; a stand-in llama.cpp for the other path)."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from slm_workbench.cli.main import main
from slm_workbench.config.deploy_gguf import GgufRecipe
from slm_workbench.engine.deploy.gguf.stage import plan, resolve_gguf_source
from slm_workbench.engine.errors import WorkbenchError
from tests.engine.deploy.gguf_fixtures import logits_of

FAKE_CONVERTER = """import sys
args = sys.argv[1:]
out = args[args.index("--outfile") + 1]
open(out, "wb").write(b"GGUF fake " + " ".join(args).encode())
print("fake converter wrote", out)
"""
FAKE_QUANTIZE = """import shutil, sys
shutil.copy(sys.argv[1], sys.argv[2])
open(sys.argv[2], "ab").write(b" quantized " + sys.argv[3].encode())
"""


@pytest.fixture
def fake_llama_cpp(tmp_path) -> Path:
    folder = tmp_path / "llama.cpp"
    (folder / "build" / "bin").mkdir(parents=True)
    (folder / "convert_hf_to_gguf.py").write_text(FAKE_CONVERTER)
    quantize = folder / "build" / "bin" / "llama-quantize"
    quantize.write_text(f"#!{sys.executable}\n" + FAKE_QUANTIZE)
    quantize.chmod(quantize.stat().st_mode | stat.S_IEXEC)
    return folder


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- which writer --------------------------------------------------------------------------------
def test_gguf_origin_models_and_their_runs_use_the_workbench_writer(gguf_origin_dir, lora_on_gguf_origin, no_llama_cpp):
    for spec in (str(gguf_origin_dir), lora_on_gguf_origin.name):
        the_plan = plan(resolve_gguf_source(spec), GgufRecipe(source=spec, type="q8_0"))
        assert the_plan.path == "workbench" and the_plan.source_gguf.name == "tiny-source.gguf"


def test_other_models_without_llama_cpp_are_refused_in_one_line(tiny_model_dir, no_llama_cpp):
    with pytest.raises(WorkbenchError) as exc:
        plan(resolve_gguf_source(str(tiny_model_dir)), GgufRecipe(source=str(tiny_model_dir)))
    message = exc.value.message
    assert "did not come from a GGUF" in message and "convert_hf_to_gguf.py" in message and "\n" not in message
    assert "smollm2-135m-instruct" in message and "SLMW_LLAMA_CPP" in exc.value.hint


def test_q4_k_m_needs_llama_quantize_or_llama_cpp_python(gguf_origin_dir, no_llama_cpp):
    with pytest.raises(WorkbenchError) as exc:
        plan(resolve_gguf_source(str(gguf_origin_dir)), GgufRecipe(source=str(gguf_origin_dir), type="q4_k_m"))
    message = exc.value.message
    assert "q4_k_m needs llama.cpp's quantizer: no llama-quantize" in message and "no llama-cpp-python" in message
    assert "\n" not in message and "SLMW_LLAMA_PYTHON" in exc.value.hint and "pip install llama-cpp-python" in exc.value.hint


def test_llama_cpp_is_found_in_the_named_folder(tiny_model_dir, fake_llama_cpp, no_llama_cpp, monkeypatch):
    recipe = GgufRecipe(source=str(tiny_model_dir), type="q4_k_m", llama_cpp=str(fake_llama_cpp))
    the_plan = plan(resolve_gguf_source(str(tiny_model_dir)), recipe)
    assert the_plan.path == "llama.cpp" and the_plan.tools.quantizer.name == "llama-quantize"
    monkeypatch.setenv("SLMW_LLAMA_CPP", str(fake_llama_cpp))
    assert plan(resolve_gguf_source(str(tiny_model_dir)), GgufRecipe(source=str(tiny_model_dir))).path == "llama.cpp"


def test_a_variant_is_not_a_gguf_source(tiny_model_dir):
    with pytest.raises(WorkbenchError, match="names an ONNX variant"):
        resolve_gguf_source(f"{tiny_model_dir}:int4")


# -- the command, before a job -------------------------------------------------------------------
@pytest.mark.parametrize(("args", "message"), [
    (["deploy", "gguf", "TINY"], "did not come from a GGUF"),
    (["deploy", "gguf", "ORIGIN", "-o", "EXISTING"], "already exists"),
    (["deploy", "gguf", "ORIGIN", "--converter", "workbench", "-o", "NEW"], None),
])
def test_refusals_before_any_job(capsys, tiny_model_dir, gguf_origin_dir, tmp_path, no_llama_cpp, monkeypatch, args,
                                 message):
    from slm_workbench.cli import jobs

    started = []
    monkeypatch.setattr(jobs, "start_recipe", lambda recipe, **kw: started.append(recipe) or (_ for _ in ()).throw(
        SystemExit(0)))
    (tmp_path / "existing").mkdir()
    names = {"TINY": str(tiny_model_dir), "ORIGIN": str(gguf_origin_dir), "EXISTING": str(tmp_path / "existing"),
             "NEW": str(tmp_path / "new")}
    args = [names.get(a, a) for a in args]
    if message is None:  # accepted: the recipe the job would run
        with pytest.raises(SystemExit):
            main(args)
        assert started[0].output == str(tmp_path / "new") and started[0].force is False
        return
    code, _, err = cli(capsys, *args)
    assert code == 1 and message in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2
    assert started == []


def test_an_unknown_type_is_refused(capsys, gguf_origin_dir):
    with pytest.raises(SystemExit) as exc:
        main(["deploy", "gguf", str(gguf_origin_dir), "--type", "q5_k"])
    assert exc.value.code == 2 and "invalid choice: 'q5_k'" in capsys.readouterr().err


# -- real jobs -----------------------------------------------------------------------------------
def test_a_lora_run_becomes_a_gguf_and_modelfile(capsys, lora_on_gguf_origin, gguf_origin_dir, tmp_path, no_llama_cpp):
    out = tmp_path / "deployed"
    code, stdout, err = cli(capsys, "deploy", "gguf", lora_on_gguf_origin.name, "-o", str(out), "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert (result["writer"], result["type"], result["template"]) == ("workbench", "f16", "ChatML")
    assert result["source"]["run"] == lora_on_gguf_origin.name and result["source"]["data"] == {"sha256": "abc"}
    assert result["check"]["verdict"] == "not checked" and "SLMW_LLAMA_PYTHON" in result["check"]["detail"]
    assert sorted(p.name for p in out.iterdir()) == ["Modelfile", "gguf.json", "model.gguf"]
    assert not list(out.parent.glob(".deployed*"))
    assert "FROM ./model.gguf" in (out / "Modelfile").read_text()
    merged = lora_on_gguf_origin / "artifacts" / "merged"  # merged on the way, once
    ids = [1, 17, 200, 31, 5, 99, 2, 64]
    want, got = logits_of(merged, ids), logits_of(out, ids, gguf_file="model.gguf")
    assert ((got - want).abs().max() / want.abs().max()).item() < 5e-3  # f16 rounding
    base = logits_of(gguf_origin_dir, ids)
    assert ((base - want).abs().max() / want.abs().max()).item() > 1e-2  # the adapter changed the model


def test_the_llama_cpp_path_converts_then_quantizes(capsys, tiny_model_dir, fake_llama_cpp, tmp_path, no_llama_cpp):
    out = tmp_path / "q4"
    (out).mkdir()
    (out / "old.txt").write_text("replaced only once the new folder is complete")
    code, stdout, err = cli(capsys, "deploy", "gguf", str(tiny_model_dir), "--type", "q4_k_m", "-o", str(out),
                            "--llama-cpp", str(fake_llama_cpp), "--force", "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert (result["writer"], result["type"]) == ("llama.cpp", "q4_k_m")
    written = (out / "model.gguf").read_bytes().decode()
    assert written.startswith("GGUF fake ") and "--outtype f16" in written and written.endswith("quantized Q4_K_M")
    assert sorted(p.name for p in out.iterdir()) == ["Modelfile", "gguf.json", "model.gguf"]
