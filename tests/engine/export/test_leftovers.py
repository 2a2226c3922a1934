"""What a ``kill -9`` leaves behind a variant writer: dead writers' ``.NAME.partial-PID`` / ``.NAME.old-PID``
folders are cleaned (an old folder whose target is gone is put back), and a variant folder without the
files its writer writes last is never listed nor loaded: it is refused by name until rebuilt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from slm_workbench.config.presets import resolve_presets
from slm_workbench.engine.chat import registry
from slm_workbench.engine.errors import ModelNotFoundError, WorkbenchError
from slm_workbench.engine.export.export import export_variants
from slm_workbench.engine.fsutil import remove_dead_leftovers
from slm_workbench.engine.model_source import resolve_source
from slm_workbench.engine.models.variants import incomplete_reason, require_variant, variant_complete


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


def _folder(path: Path, *files: str) -> Path:
    path.mkdir(parents=True)
    for name in files:
        (path / name).write_text("x")
    return path


def test_dead_writers_leftovers_are_cleaned_and_a_live_ones_kept(tmp_path: Path) -> None:
    dead = _dead_pid()
    partial = _folder(tmp_path / f".int4.partial-{dead}", "genai_config.json")
    moved_aside = _folder(tmp_path / f".int8.old-{dead}", "slmw_variant.json")  # killed between the two renames
    _folder(tmp_path / "fp32")
    stale_old = _folder(tmp_path / f".fp32.old-{dead}")
    live = _folder(tmp_path / f".int4.partial-{os.getpid()}")
    done = remove_dead_leftovers(tmp_path)
    assert not partial.exists() and not stale_old.exists() and live.is_dir()
    assert (tmp_path / "int8" / "slmw_variant.json").is_file() and not moved_aside.exists()  # put back, whole
    assert len(done) == 3 and any(f"restored {tmp_path / 'int8'}" in line for line in done)


def test_complete_means_the_model_file_and_the_marker_written_last(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "int8")
    (folder / "genai_config.json").write_text('{"model": {"decoder": {"filename": "model.onnx"}}}')
    assert "model.onnx" in (incomplete_reason(folder) or "") and not variant_complete(folder)
    (folder / "model.onnx").write_text("x")
    assert "slmw_variant.json" in (incomplete_reason(folder) or "")
    (folder / "slmw_variant.json").write_text("{}")
    assert incomplete_reason(folder) is None and variant_complete(folder)
    (folder / "genai_config.json").write_text("{trunc")
    assert "unreadable" in (incomplete_reason(folder) or "")


def test_a_half_written_variant_is_refused_by_name_never_used(tiny_model_dir: Path, slmw_home: Path,
                                                              tmp_path: Path) -> None:
    source = resolve_source(str(tiny_model_dir))
    target = _folder(source.variant_dir("int8"), "model.onnx")
    (target / "genai_config.json").write_text('{"model": {"decoder": {"filename": "model.onnx"}}}')
    leftover = _folder(target.parent / f".int4.partial-{_dead_pid()}", "genai_config.json")
    assert source.built_variants() == {}
    with pytest.raises(WorkbenchError, match=rf"variant {source.name}:int8 at {target} is half-written: its build "
                                             r"was not finished \(no slmw_variant.json\) \(--overwrite rebuilds it\)"):
        export_variants(source, resolve_presets(["int8"]), work_dir=tmp_path / "work")
    assert (target / "model.onnx").is_file() and not leftover.exists()  # nothing of it removed; the leftover is
    with pytest.raises(ModelNotFoundError, match=f"variant {source.name}:int8 at {target} is half-written"):
        require_variant(target, f"{source.name}:int8")
    with pytest.raises(WorkbenchError, match="is half-written"):  # chat and serve load through here
        registry.open_backend(f"{tiny_model_dir}:int8", build=False)
