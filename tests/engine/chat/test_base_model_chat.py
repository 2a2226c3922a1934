"""Chat and serve on a base model: without a chat template one line names the option before anything loads;
prepared with one, it chats and stops on the template's end of turn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.cli.main import main
from slm_workbench.engine.chat.registry import open_backend
from slm_workbench.engine.chat.types import GenParams
from slm_workbench.engine.models.chat_template import ChatTemplateError
from slm_workbench.engine.models.prepare import prepare_model
from slm_workbench.engine.models.resolve import parse_model
from slm_workbench.engine.serve.pool import open_model


def test_chat_and_serve_on_a_base_model_are_one_line_naming_the_option(tiny_base_model_dir: Path, capsys) -> None:
    for opening in (lambda: open_backend(str(tiny_base_model_dir)),
                    lambda: open_model(str(tiny_base_model_dir), threads=1, parallel=1)):
        with pytest.raises(ChatTemplateError) as exc:
            opening()
        assert exc.value.message == f"{tiny_base_model_dir} has no chat template (a base model): to chat with it, give it one"
        assert "--chat-template chatml|gemma|PATH.jinja" in exc.value.hint and "chat_template:" in exc.value.hint
    code = main(["chat", str(tiny_base_model_dir), "--prompt", "Hi", "--threads", "1"])
    err = capsys.readouterr().err
    assert code != 0 and "has no chat template (a base model)" in err and "Traceback" not in err
    assert [line.split(":")[1].strip() for line in err.splitlines() if line.strip()] == ["error", "hint"]


def test_prepared_with_gemma_it_chats_and_stops_on_end_of_turn(tiny_base_model_dir: Path, slmw_home: Path) -> None:
    folder = prepare_model(parse_model(str(tiny_base_model_dir)), chat_template="gemma")
    backend = open_backend(str(folder), threads=1)
    try:
        end = backend.tokenizer.convert_tokens_to_ids("<end_of_turn>")
        assert end in backend.generate_kwargs(GenParams())["eos_token_id"]
        prompt = backend.tokenizer.decode(backend.prompt_ids([{"role": "user", "content": "Hi"}], GenParams()))
        assert prompt.endswith("<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n")
        assert json.loads((folder / "generation_config.json").read_text())["eos_token_id"][-1] == end
    finally:
        backend.close()


def test_eval_on_a_base_model_is_one_line_naming_the_option(tiny_base_model_dir: Path, slmw_home: Path) -> None:
    from slm_workbench.engine.eval.answerers import LocalAnswerer

    with pytest.raises(ChatTemplateError) as exc:
        LocalAnswerer("transformers", tiny_base_model_dir, label="base")
    assert exc.value.message == "base has no chat template (a base model): to ask it the examples, give it one"
    folder = prepare_model(parse_model(str(tiny_base_model_dir)), chat_template="gemma")
    answerer = LocalAnswerer("transformers", folder, label="gemma")
    try:
        assert answerer.tokenizer.convert_tokens_to_ids("<end_of_turn>") in answerer.eos
    finally:
        answerer.close()
