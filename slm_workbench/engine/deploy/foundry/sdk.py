"""Talk to Foundry Local through its own SDK, in a process of its own.

``foundry-local-sdk`` 2.2.1 needs Python >= 3.11 and pins ``onnxruntime-genai-core`` 0.18, a
separate module from the workbench's ``onnxruntime_genai``; the two must never share a
process. So every SDK call runs in a child interpreter (``sdk_child.py``, which
imports nothing of the workbench): the interpreter named by the recipe's ``foundry_python``,
else ``$SLMW_FOUNDRY_PYTHON``, else this one when the ``foundry`` extra is installed here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ...errors import WorkbenchError

PYTHON_ENV = "SLMW_FOUNDRY_PYTHON"
APP_DATA_ENV = "SLMW_FOUNDRY_APP_DATA"
"""Foundry Local's app data folder for ``--install`` (its local catalog); unset: the SDK's default."""
CHILD = Path(__file__).with_name("sdk_child.py")
INSTALL_HINT = f"pip install 'slm-workbench[foundry]' (Python >= 3.11), or point {PYTHON_ENV} at a Python that has foundry-local-sdk==2.2.1"


def find_python(configured: str | None = None) -> tuple[str | None, str]:
    """The interpreter with foundry-local-sdk, or None and why not."""
    for where, value in (("foundry_python", configured), (PYTHON_ENV, os.environ.get(PYTHON_ENV))):
        if value:
            if not Path(value).is_file():
                return None, f"{where} {value} does not exist"
            return value, f"{where} {value}"
    if sys.version_info < (3, 11):
        return None, f"foundry-local-sdk needs Python >= 3.11 (this is {sys.version.split()[0]}); {INSTALL_HINT}"
    if importlib.util.find_spec("foundry_local_sdk") is None:
        return None, f"foundry-local-sdk is not installed; {INSTALL_HINT}"
    return sys.executable, f"this interpreter ({sys.executable})"


def call(python: str, request: dict[str, Any], *, timeout_s: float = 600) -> dict[str, Any]:
    """Run one request in the SDK's interpreter; its JSON answer (``ok`` false with ``error`` on failure)."""
    try:
        done = subprocess.run([python, "-I", str(CHILD)], input=json.dumps(request), capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"Foundry Local did not answer within {timeout_s:.0f} s"}
    except OSError as exc:
        raise WorkbenchError(f"cannot run the Foundry Local SDK's Python {python}: {exc.strerror or exc}",
                             hint=INSTALL_HINT) from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if "No module named 'foundry_local_sdk'" in done.stderr:
            tail = f"{python} has no foundry-local-sdk"
        return {"ok": False, "error": f"the Foundry Local SDK process ended {done.returncode}: {tail}"}
