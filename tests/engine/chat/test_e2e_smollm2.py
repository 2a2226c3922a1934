"""The real SmolLM2-135M-Instruct: through transformers and through its int4 ONNX variant it
answers the capital question with Paris; the template round trip passes on the honest
export and names the first differing token on an altered one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.engine.chat.registry import open_backend
from slm_workbench.engine.chat.session import answer
from slm_workbench.engine.chat.template_check import check_templates
from slm_workbench.engine.chat.types import GenParams

pytestmark = pytest.mark.e2e
FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def test_transformers_answers_paris(prepared_home: Path) -> None:
    backend = open_backend("smollm2-135m-instruct", threads=1)
    assert backend.kind == "transformers"
    reply = answer(backend, FRANCE, GenParams(max_new_tokens=24))
    assert "Paris" in reply.text and reply.tok_s


def test_onnx_int4_variant_answers_paris(int4_in_home: Path) -> None:
    backend = open_backend("smollm2-135m-instruct:int4")
    assert backend.kind == "onnx" and backend.template().source.endswith("chat_template.jinja")
    reply = answer(backend, FRANCE, GenParams(max_new_tokens=24))
    assert "Paris" in reply.text and reply.tok_s


def test_template_round_trip_passes_on_the_export(int4_in_home: Path) -> None:
    report = check_templates("smollm2-135m-instruct")
    assert report.ok, report.findings
    assert list(report.variants) == ["int4"] and len(report.checked) == 6  # 2 probes x (prompt: exported + serving; whole chat: exported)


def test_template_round_trip_catches_an_altered_template(int4_in_home: Path) -> None:
    jinja = int4_in_home / "chat_template.jinja"
    jinja.write_text(jinja.read_text().replace("'<|im_start|>' + message['role'] + '\n'", "'<|im_start|>' + message['role'] + ': '"))
    config = json.loads((int4_in_home / "genai_config.json").read_text())
    config["model"]["eos_token_id"] = 0  # <|endoftext|>, not the <|im_end|> the answers end with
    (int4_in_home / "genai_config.json").write_text(json.dumps(config))
    report = check_templates("smollm2-135m-instruct")
    assert not report.ok
    paths = {f.path for f in report.findings}
    assert {"exported int4", "serving int4"} <= paths
    first = next(f for f in report.findings if f.path == "exported int4" and f.mode == "prompt")
    assert "differs from training at token 2 " in first.message
    assert "training: <|im_start|>system ▸ \\nYou are" in first.message and "int4: <|im_start|>system ▸ : You are" in first.message
    assert any("generation will run past the answer" in f.message and "<|im_end|>" in f.message for f in report.findings)


def test_a_variant_is_built_on_demand(prepared_home: Path, smollm2_int4_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``MODEL:int4`` with no folder yet: the export engine is asked for exactly that variant."""
    from slm_workbench.engine.chat import variant_build
    from slm_workbench.engine.models.variants import variant_dir_for_model

    asked: list[tuple[str, str]] = []

    def fake_build(base: str, variant: str, **_kw: object) -> Path:
        asked.append((base, variant))
        out = variant_dir_for_model("smollm2-135m-instruct", variant)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.symlink_to(smollm2_int4_dir, target_is_directory=True)  # the cached real build
        return out

    monkeypatch.setattr(variant_build, "build_on_demand", fake_build)
    statuses: list[str] = []
    backend = open_backend("smollm2-135m-instruct:int4", on_status=statuses.append)
    assert asked == [("smollm2-135m-instruct", "int4")]
    assert backend.kind == "onnx" and any("building variant" in s for s in statuses)


def test_foundry_prompt_template_is_checked_too(int4_in_home: Path) -> None:
    chatml = {"system": "<|im_start|>system\n{Content}<|im_end|>\n", "user": "<|im_start|>user\n{Content}<|im_end|>\n",
              "assistant": "<|im_start|>assistant\n{Content}<|im_end|>\n",
              "prompt": "<|im_start|>user\n{Content}<|im_end|>\n<|im_start|>assistant\n"}
    manifest = int4_in_home / "inference_model.json"
    manifest.write_text(json.dumps({"Name": "smollm2-int4", "PromptTemplate": chatml}))
    probe = [("system and two turns", [
        {"role": "system", "content": "Be terse."}, {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."}, {"role": "user", "content": "Italy?"}, {"role": "assistant", "content": "Rome."}])]
    report = check_templates("smollm2-135m-instruct", probes=probe)
    assert report.ok and any(c.endswith("foundry int4") for c in report.checked)
    manifest.write_text(json.dumps({"PromptTemplate": chatml | {"prompt": "<|user|>\n{Content}<|end|>\n<|assistant|>"}}))
    report = check_templates("smollm2-135m-instruct", probes=probe)
    assert [f.path for f in report.findings] == ["foundry int4"]


def test_cli_check_template_exit_code(int4_in_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from slm_workbench.cli.main import main

    assert main(["chat", "smollm2-135m-instruct", "--check-template"]) == 0
    assert "template round trip: OK" in capsys.readouterr().out
    jinja = int4_in_home / "chat_template.jinja"
    jinja.write_text(jinja.read_text().replace("You are a helpful AI assistant", "You are an AI"))
    assert main(["chat", "smollm2-135m-instruct", "--check-template"]) == 1
    assert "WARNING [exported int4] no system prompt / prompt: differs from training at token" in capsys.readouterr().err
