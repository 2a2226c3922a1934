"""The Foundry Local SDK's environment, missing or broken: one line naming $SLMW_FOUNDRY_PYTHON and what to
install, found before any package is written or smoke-tested."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from slm_workbench.engine.deploy.foundry import sdk
from slm_workbench.engine.deploy.foundry.smoke import require_python
from slm_workbench.engine.errors import WorkbenchError


def _script(path: Path, body: str) -> str:
    path.write_text(f"#!{sys.executable}\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _plain_file(path: Path) -> str:
    path.write_text("")
    return str(path)


@pytest.mark.parametrize(("make", "problem"), [
    (lambda tmp: str(tmp / "missing" / "python"), "does not exist"),
    (lambda tmp: sys.executable, "has no foundry-local-sdk"),  # the workbench's own venv has no SDK
    (lambda tmp: _script(tmp / "old", "print(False, '2.2.1')"), "is older than Python 3.11"),
    (lambda tmp: _script(tmp / "other", "print(True, '1.0.0')"), "has foundry-local-sdk 1.0.0, not 2.2.1"),
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


def test_unset_names_the_variable_and_a_working_one_is_used(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(sdk.PYTHON_ENV, raising=False)
    found, why = sdk.find_python()
    assert found is None and why.startswith("$SLMW_FOUNDRY_PYTHON is not set")
    good = _script(tmp_path / "good", "print(True, '2.2.1')")
    monkeypatch.setenv(sdk.PYTHON_ENV, good)
    assert sdk.find_python() == (good, f"$SLMW_FOUNDRY_PYTHON {good}")
