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
SDK_VERSION = "2.2.1"
INSTALL_HINT = (f"give it its own venv (Python >= 3.11): python3.11 -m venv ~/.foundry-sdk && "
                f"~/.foundry-sdk/bin/pip install foundry-local-sdk=={SDK_VERSION}, then "
                f"export {PYTHON_ENV}=~/.foundry-sdk/bin/python")
PROBE = """
import json, sys
found = {"python": list(sys.version_info[:2]), "sdk": None, "import_error": None}
if sys.version_info >= (3, 11):
    import importlib.metadata as m
    try:
        found["sdk"] = m.version("foundry-local-sdk")
        import foundry_local_sdk
    except m.PackageNotFoundError:
        pass
    except Exception as exc:
        found["import_error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
print(json.dumps(found))
"""
"""Run in the candidate interpreter (``-I``): its version, the SDK's installed version, and whether
``import foundry_local_sdk`` works (an SDK whose import fails is named here, not by a smoke test later)."""
PROBE_TIMEOUT_S = 60.0


def probe(python: str) -> str | None:
    """What is wrong with ``python`` as the SDK's interpreter (None when it has the SDK): it is run once,
    so a broken environment is named here rather than by a smoke test that fails later."""
    try:
        done = subprocess.run([python, "-I", "-c", PROBE], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        return f"did not answer within {PROBE_TIMEOUT_S:.0f} s"
    except OSError as exc:
        return f"cannot be run ({exc.strerror or exc})"
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    try:
        found = json.loads(lines[-1])
        major, minor = found["python"]
    except (IndexError, ValueError, KeyError, TypeError):
        tail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"is broken ({tail})"
    if (major, minor) < (3, 11):
        return f"is Python {major}.{minor}, older than 3.11"
    version = found.get("sdk")
    if not version:
        return "has no foundry-local-sdk"
    if not str(version).startswith(SDK_VERSION.rsplit(".", 1)[0] + "."):
        return f"has foundry-local-sdk {version}, not {SDK_VERSION}"
    if found.get("import_error"):
        return f"has foundry-local-sdk {version} but it does not import ({found['import_error']})"
    return None


def find_python(configured: str | None = None) -> tuple[str | None, str]:
    """The interpreter with foundry-local-sdk, or None and why not, in one line naming where it looked."""
    need = f"foundry-local-sdk=={SDK_VERSION} in its own venv"
    for where, value in (("foundry_python", configured), (f"${PYTHON_ENV}", os.environ.get(PYTHON_ENV))):
        if value:
            if not Path(value).is_file():
                return None, f"{where} {value} does not exist; point {PYTHON_ENV} at a Python with {need}"
            problem = probe(value)
            if problem is not None:
                return None, f"{where} {value} {problem}; point {PYTHON_ENV} at a Python with {need}"
            return value, f"{where} {value}"
    if sys.version_info >= (3, 11) and importlib.util.find_spec("foundry_local_sdk") is not None:
        return sys.executable, f"this interpreter ({sys.executable})"
    return None, f"${PYTHON_ENV} is not set and this Python has no foundry-local-sdk; set it to a Python with {need}"


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
