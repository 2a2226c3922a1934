"""The template round trip on the tiny model's exported fp32 variant (shared session build):
honest export passes; an edited template and a wrong stop token are each named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from slm_workbench.engine.chat.template_check import check_templates, first_difference


@pytest.fixture
def exported(slmw_home: Path, tiny_model_dir: Path, tiny_variants: dict[str, Path]) -> Path:  # noqa: F811
    """A copy (it gets edited) of the fp32 variant where ``TINY:fp32`` resolves."""
    folder = slmw_home / "variants" / tiny_model_dir.name / "fp32"
    shutil.copytree(tiny_variants["fp32"], folder)
    return folder


def test_first_difference() -> None:
    assert first_difference([1, 2, 3], [1, 2, 3]) is None
    assert first_difference([1, 2, 3], [1, 9, 3]) == 1
    assert first_difference([1, 2], [1, 2, 3]) == 2


def test_an_honest_export_round_trips(exported: Path, tiny_model_dir: Path) -> None:
    report = check_templates(str(tiny_model_dir))
    assert report.ok, report.findings
    assert list(report.variants) == ["fp32"] and len(report.checked) == 6


def test_an_edited_template_is_named_at_its_first_token(exported: Path, tiny_model_dir: Path) -> None:
    jinja = exported / "chat_template.jinja"
    jinja.write_text(jinja.read_text().replace("<|im_start|>", "<|im_start|> "))
    report = check_templates(str(tiny_model_dir))
    assert {f.path for f in report.findings} == {"exported fp32", "serving fp32"}
    assert all("differs from training at token 1 " in f.message for f in report.findings)


def test_a_wrong_stop_token_is_named(exported: Path, tiny_model_dir: Path) -> None:
    config = json.loads((exported / "genai_config.json").read_text())
    config["model"]["eos_token_id"] = 0
    (exported / "genai_config.json").write_text(json.dumps(config))
    report = check_templates(str(tiny_model_dir))
    assert len(report.findings) == 1 and "'<|im_end|>' (id 2)" in report.findings[0].message
    assert "generation will run past the answer" in report.findings[0].message
