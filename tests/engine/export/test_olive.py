"""The Olive path: RTN int4 over the fp32 graph, its renamed logits fixed, and its silent failures caught."""

from __future__ import annotations

import json
import sys

import pytest

from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.export import olive_path
from slm_workbench.engine.export.export import verify_variant


@pytest.mark.e2e  # Olive itself takes 20-40 s here
def test_olive_rtn_int4_loads_after_the_logits_fix(tiny_variants, tmp_path):
    out = tmp_path / "olive-int4"
    notes = olive_path.run_olive_rtn(tiny_variants["fp32"], out, scratch=tmp_path / "scratch", log=tmp_path / "olive.log")
    assert any("logits_Q4" in n for n in notes)
    assert json.loads((out / "genai_config.json").read_text())["model"]["decoder"]["outputs"]["logits"] == "logits_Q4"
    verify_variant(out)
    assert not (tmp_path / "scratch" / ".olive-cache").exists()


def test_olive_exiting_0_without_a_model_is_an_error(monkeypatch, tmp_path, tiny_variants):
    monkeypatch.setattr(olive_path, "olive_command", lambda *a, **k: [sys.executable, "-c", "print('pass failed')"])
    with pytest.raises(WorkbenchError, match="exited 0 but wrote no model"):
        olive_path.run_olive_rtn(tiny_variants["fp32"], tmp_path / "out", scratch=tmp_path / "s", log=tmp_path / "o.log")
