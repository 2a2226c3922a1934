"""The Foundry Local SDK's environment, missing or broken: one line naming $SLMW_FOUNDRY_PYTHON and what to
install, found before any package is written or smoke-tested."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from slm_workbench.engine.deploy.foundry import sdk
from slm_workbench.engine.deploy.foundry.smoke import require_python
from slm_workbench.engine.errors import WorkbenchError

needs_311 = pytest.mark.skipif(sys.version_info < (3, 11), reason="a venv of this Python is older than the SDK needs")


def _script(path: Path, body: str) -> str:
    path.write_text(f"#!{sys.executable}\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _answers(path: Path, python: list[int], sdk_version: str | None, import_error: str | None = None) -> str:
    found = {"python": python, "sdk": sdk_version, "import_error": import_error}
    return _script(path, f"print({json.dumps(json.dumps(found))})")


def _plain_file(path: Path) -> str:
    path.write_text("")
    return str(path)


def _venv(path: Path) -> Path:
    """A real venv of this Python without pip (~1 s): a Python that exists, with nothing installed."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, capture_output=True)
    return path


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3.*")) / "site-packages"


def _venv_whose_sdk_does_not_import(path: Path) -> str:
    """A venv where foundry-local-sdk 2.2.1 is installed (its metadata is there) but importing it fails,
    as it does when one of its native libraries or dependencies is missing."""
    site = _site_packages(_venv(path))
    package = site / "foundry_local_sdk"
    package.mkdir()
    (package / "__init__.py").write_text(
        "raise ImportError('libonnxruntime-genai.so: cannot open shared object file: No such file or directory')\n")
    info = site / "foundry_local_sdk-2.2.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: foundry-local-sdk\nVersion: 2.2.1\n")
    return str(path / "bin" / "python")


@pytest.mark.parametrize(("make", "problem"), [
    (lambda tmp: str(tmp / "missing" / "python"), "does not exist"),
    (lambda tmp: _answers(tmp / "old", [3, 10], None), "is Python 3.10, older than 3.11"),
    (lambda tmp: _answers(tmp / "none", [3, 12], None), "has no foundry-local-sdk"),
    (lambda tmp: _answers(tmp / "other", [3, 12], "1.0.0"), "has foundry-local-sdk 1.0.0, not 2.2.1"),
    (lambda tmp: _answers(tmp / "noimport", [3, 12], "2.2.1", "ImportError: no cffi"),
     "has foundry-local-sdk 2.2.1 but it does not import (ImportError: no cffi)"),
    (lambda tmp: _script(tmp / "crash", "raise SystemExit('site-packages are damaged')"), "is broken (site-packages are damaged)"),
    (lambda tmp: _plain_file(tmp / "plain.txt"), "cannot be run"),  # not executable
])
def test_a_missing_or_broken_environment_is_one_line_naming_the_variable(tmp_path, monkeypatch, make, problem) -> None:
    python = make(tmp_path)
    monkeypatch.setenv(sdk.PYTHON_ENV, python)
    found, why = sdk.find_python()
    assert found is None and why.startswith(f"$SLMW_FOUNDRY_PYTHON {python} {problem}")
    assert "foundry-local-sdk==2.2.1 in its own venv" in why and "\n" not in why
    with pytest.raises(WorkbenchError) as err:
        require_python(None, "--install")
    assert "SLMW_FOUNDRY_PYTHON" in err.value.message and "pip install foundry-local-sdk==2.2.1" in (err.value.hint or "")


@needs_311
def test_a_real_python_without_the_sdk_is_named(tmp_path, monkeypatch) -> None:
    """The probe runs in the interpreter itself: a real venv with nothing installed, and this test's own
    Python (the workbench's venv, which must never hold the SDK)."""
    for python in (str(_venv(tmp_path / "bare") / "bin" / "python"), sys.executable):
        monkeypatch.setenv(sdk.PYTHON_ENV, python)
        found, why = sdk.find_python()
        assert found is None and why == (f"$SLMW_FOUNDRY_PYTHON {python} has no foundry-local-sdk; point "
                                         "SLMW_FOUNDRY_PYTHON at a Python with foundry-local-sdk==2.2.1 in its own venv")


@needs_311
def test_a_venv_whose_sdk_does_not_import_is_refused_before_any_package_is_written(
        tmp_path, monkeypatch, slmw_home) -> None:
    python = _venv_whose_sdk_does_not_import(tmp_path / "broken")
    monkeypatch.setenv(sdk.PYTHON_ENV, python)
    found, why = sdk.find_python()
    assert found is None
    assert why.startswith(f"$SLMW_FOUNDRY_PYTHON {python} has foundry-local-sdk 2.2.1 but it does not import "
                          "(ImportError: libonnxruntime-genai.so: cannot open shared object file")
    with pytest.raises(WorkbenchError, match=r"^--install needs the Foundry Local SDK: \$SLMW_FOUNDRY_PYTHON .* "
                                             r"does not import"):
        require_python(None, "--install")


def test_unset_names_the_variable_and_a_working_one_is_used(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(sdk.PYTHON_ENV, raising=False)
    found, why = sdk.find_python()
    assert found is None and why.startswith("$SLMW_FOUNDRY_PYTHON is not set")
    good = _answers(tmp_path / "good", [3, 11], "2.2.1")
    monkeypatch.setenv(sdk.PYTHON_ENV, good)
    assert sdk.find_python() == (good, f"$SLMW_FOUNDRY_PYTHON {good}")


def test_install_without_a_working_sdk_is_refused_by_the_cli_before_a_job_starts(tmp_path, monkeypatch, capsys) -> None:
    from slm_workbench.cli.main import main
    from slm_workbench.engine.runs.store import RunStore

    python = _answers(tmp_path / "noimport", [3, 12], "2.2.1", "ImportError: no cffi")
    monkeypatch.setenv(sdk.PYTHON_ENV, python)
    assert main(["deploy", "foundry", "smollm2-135m-instruct", "--install"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == (f"slmw: error: --install needs the Foundry Local SDK: $SLMW_FOUNDRY_PYTHON {python} has "
                      "foundry-local-sdk 2.2.1 but it does not import (ImportError: no cffi); point "
                      "SLMW_FOUNDRY_PYTHON at a Python with foundry-local-sdk==2.2.1 in its own venv")
    assert not RunStore().list()  # no job was started
