"""A base model prepared with chatml or gemma carries its template everywhere downstream: the exported
variant (its template, and genai_config's EOS ids with the end of turn), the template round-trip check,
the Foundry Local package's PromptTemplate (checked by the package's own round trip) and the Ollama
Modelfile's TEMPLATE (rendered as Go renders it, against the Jinja template)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.config.deploy_foundry import FoundryRecipe
from slm_workbench.engine.chat.template_check import check_templates
from slm_workbench.engine.deploy.foundry.stage import run as foundry_run
from slm_workbench.engine.deploy.gguf.modelfile import PROBES, jinja_render
from slm_workbench.engine.deploy.gguf.stage import modelfile_for
from slm_workbench.engine.models.chat_template import load_template
from slm_workbench.engine.models.prepare import prepare_model
from slm_workbench.engine.models.resolve import parse_model
from slm_workbench.engine.runs.context import RunContext
from slm_workbench.engine.runs.run import Run
from tests.engine.deploy.gotemplate import modelfile_parts, ollama_data, render

END_OF_TURN = {"chatml": "<|im_end|>", "gemma": "<end_of_turn>"}


@pytest.fixture(params=["chatml", "gemma"])
def templated(request, tiny_base_model_dir: Path, slmw_home: Path) -> tuple[str, Path]:
    return request.param, prepare_model(parse_model(str(tiny_base_model_dir)), chat_template=request.param)


def test_the_export_the_round_trip_check_and_the_foundry_package_carry_it(templated, slmw_home, tmp_path):
    from transformers import AutoTokenizer

    from slm_workbench.config.presets import resolve_presets
    from slm_workbench.engine.export.export import export_variants
    from slm_workbench.engine.model_source import resolve_source

    name, folder = templated
    variant = export_variants(resolve_source("tiny-base"), resolve_presets("fp32"), work_dir=tmp_path / "work")[0].folder
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert (variant / "chat_template.jinja").read_text() == load_template(name).text
    eos = json.loads((variant / "genai_config.json").read_text())["model"]["eos_token_id"]
    assert tokenizer.convert_tokens_to_ids(END_OF_TURN[name]) in eos and tokenizer.eos_token_id in eos

    report = check_templates("tiny-base")
    assert report.ok, [f.message for f in report.findings]
    assert any(c.endswith("serving fp32") for c in report.checked)

    (tmp_path / "run" / "artifacts").mkdir(parents=True)
    foundry_run(FoundryRecipe(source="tiny-base:fp32", smoke=False, name="tiny"), RunContext(tmp_path / "run"))
    package = Run(tmp_path / "run").packages()["tiny"]
    template = json.loads((package / "inference_model.json").read_text())["PromptTemplate"]
    turn = "<start_of_turn>model\n" if name == "gemma" else "<|im_start|>assistant\n"
    assert template["prompt"].endswith(f"{END_OF_TURN[name]}\n{turn}")
    checked = json.loads((package / "lineage.json").read_text())["template_check"]
    assert any(c.endswith("foundry fp32") for c in checked)


def _conversations() -> list[tuple[list[dict[str, str]], bool]]:
    asked = [[{"role": "user", "content": "Name a colour."}],
             [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Name a colour."}]]
    return [(m, True) for m in asked] + list(PROBES)


def test_the_modelfile_template_renders_what_the_chat_template_renders(templated):
    from transformers import AutoTokenizer

    name, folder = templated
    text, family = modelfile_for(folder, "model.gguf")
    template, system = modelfile_parts(text)
    assert template is not None and system is None, text
    assert f'PARAMETER stop "{END_OF_TURN[name]}"' in text
    tokenizer = AutoTokenizer.from_pretrained(folder)
    bos = tokenizer.bos_token or ""
    jinja = jinja_render(tokenizer.chat_template, bos, tokenizer.eos_token)
    for messages, generation in _conversations():
        want = jinja(messages, generation)
        if name == "gemma":
            assert want.startswith(bos)  # written by the template, left to the GGUF's add_bos_token
            want = want[len(bos):]
        if not generation:  # Ollama leaves a trailing assistant turn open
            want = want[: len(want) - len(f"{END_OF_TURN[name]}\n")]
        assert render(template, ollama_data(messages, system)) == want, messages
    assert ("system prompt in the first user turn" in family) == (name == "gemma")
