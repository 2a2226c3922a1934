"""llama-cpp-python in a Python of its own: q4_k_m without llama.cpp's CLI, and the GGUF job's check in llama.cpp.

Without llama-cpp-python the wiring is tested through a stand-in interpreter that runs the real child script
(``llama_child.py``, the real JSON protocol) over a stand-in ``llama_cpp`` module. With ``$SLMW_LLAMA_PYTHON``
naming a Python that has llama-cpp-python (e.g. /work/llama-venv/bin/python), real jobs of SmolLM2-135M are
written and checked in llama.cpp (~25 s each); otherwise those are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from slm_workbench.cli.main import main
from slm_workbench.engine.deploy.gguf.llama_python import find_llama_python, verdict
from slm_workbench.engine.runs.store import RunStore

STAND_IN = '''import os, shutil
__version__ = "0.0-stand-in"


class _Params:
    ftype = 0
    nthread = 1


def llama_model_quantize_default_params():
    return _Params()


def llama_model_quantize(src, dst, params):
    if os.environ.get("STAND_IN_QUANTIZE_FAILS"):
        open(dst, "wb").write(b"half")  # what a failed quantization leaves behind
        return 1
    shutil.copy(src, dst)
    open(dst, "ab").write(b" ftype %d" % params.ftype)
    return 0


class Llama:
    def __init__(self, model_path, **kwargs):
        raise ValueError(f"Failed to load model from file: {model_path}")
'''
LAUNCHER = '''import runpy, sys
sys.path.insert(0, {folder!r})
args = [a for a in sys.argv[1:] if a != "-I"]
if args[0] == "-c":
    exec(args[1])
else:
    sys.argv = args
    runpy.run_path(args[0], run_name="__main__")
'''
REAL = os.environ.get("SLMW_LLAMA_PYTHON")


def _has_llama_cpp(python: str | None) -> bool:
    if not python or not Path(python).is_file():
        return False
    return subprocess.run([python, "-I", "-c", "import llama_cpp"], capture_output=True).returncode == 0


@pytest.fixture
def stand_in_python(tmp_path) -> str:
    """An interpreter whose ``llama_cpp`` is the stand-in above."""
    (tmp_path / "stand-in" / "llama_cpp").mkdir(parents=True)
    (tmp_path / "stand-in" / "llama_cpp" / "__init__.py").write_text(STAND_IN)
    launcher = tmp_path / "stand-in-python"
    launcher.write_text(f"#!{sys.executable}\n" + LAUNCHER.format(folder=str(tmp_path / "stand-in")))
    launcher.chmod(launcher.stat().st_mode | stat.S_IEXEC)
    return str(launcher)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_named_python_is_probed(stand_in_python, monkeypatch, tmp_path):
    monkeypatch.delenv("SLMW_LLAMA_PYTHON", raising=False)
    found = find_llama_python(stand_in_python)
    assert (found.python, found.version) == (stand_in_python, "0.0-stand-in")
    monkeypatch.setenv("SLMW_LLAMA_PYTHON", stand_in_python)
    assert find_llama_python().python == stand_in_python
    missing = find_llama_python(str(tmp_path / "nope" / "python"))
    assert missing.python is None and "does not exist" in missing.why
    without = find_llama_python(sys.executable)  # the workbench's own Python has no llama-cpp-python
    assert without.python is None and "has no llama-cpp-python" in without.why


def test_verdicts():
    assert verdict([[1, 2, 3], [4, 2]], [[1, 2, 3], [4, 2]])[0] == "identical"
    word, detail, first, whole = verdict([[1, 2, 3], [4, 2], [7]], [[1, 2, 5], [5, 2], [7]])
    assert (word, first, whole) == ("loads", 2, 1)
    assert detail.startswith("2/3 same first token, 1/3 same answer (same prefix: 2, 0, 1 tokens)")


def test_q4_k_m_without_the_cli_through_the_named_python(capsys, gguf_origin_dir, stand_in_python, tmp_path,
                                                         no_llama_cpp):
    out = tmp_path / "q4"
    code, stdout, err = cli(capsys, "deploy", "gguf", str(gguf_origin_dir), "--type", "q4_k_m", "-o", str(out),
                            "--llama-python", stand_in_python, "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert (result["writer"], result["type"], result["quantizer"]) == ("workbench", "q4_k_m", "llama-cpp-python")
    assert (out / "model.gguf").read_bytes().endswith(b" ftype 15")  # LLAMA_FTYPE_MOSTLY_Q4_K_M, from the f16 file
    assert sorted(p.name for p in out.iterdir()) == ["Modelfile", "gguf.json", "model.gguf"]
    check = result["check"]  # the stand-in cannot load a model: recorded, the file is still written
    assert check["verdict"] == "failed" and "did not load or run model.gguf" in check["detail"]
    assert json.loads((out / "gguf.json").read_text())["check"] == check


def test_a_failed_quantization_leaves_nothing(capsys, gguf_origin_dir, stand_in_python, tmp_path, no_llama_cpp,
                                              monkeypatch):
    monkeypatch.setenv("STAND_IN_QUANTIZE_FAILS", "1")
    out = tmp_path / "q4"
    code, _, err = cli(capsys, "deploy", "gguf", str(gguf_origin_dir), "--type", "q4_k_m", "-o", str(out),
                       "--llama-python", stand_in_python)
    assert code != 0 and "could not quantize .model-f16.gguf to q4_k_m: llama_model_quantize(Q4_K_M) returned 1" in err
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".q4")] == []


@pytest.mark.parametrize(("qtype", "how"), [("q4_k_m", "flag"), ("f16", "env"), ("f16", "missing")])
def test_a_named_python_that_does_not_work_is_refused_before_a_job(capsys, gguf_origin_dir, tmp_path, no_llama_cpp,
                                                                   monkeypatch, qtype, how):
    out = tmp_path / qtype
    python = str(tmp_path / "no" / "python") if how == "missing" else sys.executable
    flag = ["--llama-python", python] if how != "env" else []
    if how == "env":
        monkeypatch.setenv("SLMW_LLAMA_PYTHON", python)
    code, _, err = cli(capsys, "deploy", "gguf", str(gguf_origin_dir), "--type", qtype, "-o", str(out), *flag)
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) <= 2
    where = "SLMW_LLAMA_PYTHON" if how == "env" else "llama_python"
    why = "does not exist" if how == "missing" else f"{python} has no llama-cpp-python"
    assert f"the Python named for llama-cpp-python does not work: {where} {python}" in err and why in err
    assert "pip install llama-cpp-python" in err and not out.exists() and RunStore().list() == []


@pytest.mark.skipif(not _has_llama_cpp(REAL), reason="set SLMW_LLAMA_PYTHON to a Python with llama-cpp-python "
                                                     "(built as bench/_llama_peer.py says) to run llama.cpp itself")
@pytest.mark.parametrize("qtype", ["f16", "q4_k_m"])
def test_llama_cpp_loads_and_answers_the_workbenchs_gguf(capsys, smollm2_dir, tmp_path, monkeypatch, qtype):
    monkeypatch.setenv("SLMW_LLAMA_PYTHON", REAL)
    monkeypatch.delenv("SLMW_LLAMA_CPP", raising=False)
    out = tmp_path / qtype
    code, stdout, err = cli(capsys, "deploy", "gguf", str(smollm2_dir), "--type", qtype, "-o", str(out), "--json")
    assert code == 0, err
    result = json.loads(stdout)
    check = result["check"]
    assert check["llama_cpp_python"] and len(check["llama_cpp"]) == len(check["prompts"]) == 2
    if qtype == "f16":  # f16 of these weights answers as fp32 does, token by token
        assert check["verdict"] == "identical", check["detail"]
    else:
        assert result["quantizer"] == "llama-cpp-python" and check["verdict"] in ("identical", "loads")
        assert check["same_first_token"] >= 1 and result["size_bytes"] < 120e6
