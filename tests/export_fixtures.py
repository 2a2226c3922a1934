"""Tiny-model ONNX variants built once per test session, shared by the export, compare and CLI tests.

The builder costs ~15 s a call here, so the fp32 and int4 variants of ``tiny_model_dir`` are
built once (under a session-wide SLMW_HOME of their own) and every test reads them; a test
that needs them in its own home links them in with ``link_variants``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_BUILT: dict[str, dict[str, Path]] = {}


def build_tiny_variants(model_dir: Path) -> dict[str, Path]:
    key = str(model_dir)
    if key not in _BUILT:
        from slm_workbench.engine.export.export import export_variants
        from slm_workbench.config.presets import resolve_presets
        from slm_workbench.engine.model_source import resolve_source

        home = Path(tempfile.mkdtemp(prefix="slmw-tiny-variants-"))
        atexit.register(shutil.rmtree, home, True)
        old = os.environ.get("SLMW_HOME")
        os.environ["SLMW_HOME"] = str(home)
        try:
            source = resolve_source(str(model_dir))
            built = export_variants(source, resolve_presets("fp32,int4,int4-hq"), work_dir=home / "work")
        finally:
            if old is None:
                os.environ.pop("SLMW_HOME", None)
            else:
                os.environ["SLMW_HOME"] = old
        _BUILT[key] = {v.name: v.folder for v in built}
    return _BUILT[key]


def link_variants(home: Path, model_name: str, variants: dict[str, Path]) -> Path:
    root = home / "variants" / model_name
    root.mkdir(parents=True, exist_ok=True)
    for name, folder in variants.items():
        (root / name).symlink_to(folder, target_is_directory=True)
    return root


@pytest.fixture
def tiny_variants(tiny_model_dir: Path) -> dict[str, Path]:
    """fp32, int4 and int4-hq GenAI folders of the tiny model (built once per session)."""
    return build_tiny_variants(tiny_model_dir)
