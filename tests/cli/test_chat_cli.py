"""``slmw chat`` and ``slmw serve`` in-process, on the tiny model (the engine is tested in
tests/engine/chat; here: arguments, output shapes, errors)."""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import pytest

from slm_workbench.cli.main import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_one_prompt_as_json(capsys, tiny_model_dir: Path) -> None:
    code, out, _ = run_cli(capsys, "chat", str(tiny_model_dir), "--prompt", "Hi", "--json", "--max-new-tokens", "6", "--threads", "1")
    answer = json.loads(out)
    assert code == 0 and answer["tokens"] == 6 and answer["ttft_s"] > 0 and answer["tok_s"] > 0
    assert answer["model"] == str(tiny_model_dir) and answer["template"].endswith("chat_template.jinja")


def test_one_prompt_streams_text_and_prints_figures(capsys, tiny_model_dir: Path) -> None:
    code, out, err = run_cli(capsys, "chat", str(tiny_model_dir), "--prompt", "Hi", "--max-new-tokens", "4", "--threads", "1")
    assert code == 0 and "s to first token" in err and "tok/s" in err


def test_compare_side_by_side(capsys, tiny_model_dir: Path) -> None:
    code, out, _ = run_cli(capsys, "chat", "--compare", str(tiny_model_dir), str(tiny_model_dir), "--prompt", "Hi",
                           "--json", "--max-new-tokens", "5", "--threads", "1", "--no-concurrent")
    result = json.loads(out)
    assert code == 0 and len(result["answers"]) == 2 and result["concurrent"] is False
    assert result["similarity_to_first"] == [1.0] and all(a["tokens"] == 5 for a in result["answers"])


@pytest.mark.parametrize(("args", "message"), [
    (["chat", "--compare", "a", "b"], "--compare needs --prompt"),
    (["chat"], "give a MODEL"),
    (["chat", "x", "--prompt", "hi", "--max-new-tokens", "0"], "--max-new-tokens"),
    (["chat", "no-such-model", "--prompt", "hi"], "no model or run named"),
    (["serve", "smollm2-135m-instruct", "--host", "0.0.0.0"], "host 0.0.0.0 is reachable from the network: set api_key_env"),
])
def test_errors_are_one_line(capsys, args: list[str], message: str) -> None:
    code, _out, err = run_cli(capsys, *args)
    assert code == 1 and message in err and "Traceback" not in err


def test_repl_saves_the_conversation_and_exports_it(capsys, tiny_model_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    lines = iter(["Hello", "/system Be brief.", "Again", "/exit"])
    monkeypatch.setattr(builtins, "input", lambda _prompt="": next(lines))
    code, _out, err = run_cli(capsys, "chat", str(tiny_model_dir), "--max-new-tokens", "3", "--threads", "1")
    assert code == 0 and "saved in the chat history" in err
    code, out, _ = run_cli(capsys, "chat", "--history", "--json")
    convs = json.loads(out)
    assert code == 0 and len(convs) == 2 and {c["title"] for c in convs} == {"Hello", "Again"}
    code, out, _ = run_cli(capsys, "chat", "--export-history", str(tmp_path / "chats.jsonl"), "--json")
    rows = [json.loads(line) for line in (tmp_path / "chats.jsonl").read_text().splitlines()]
    assert json.loads(out)["rows"] == 2 == len(rows)
    with_system = next(r for r in rows if r["messages"][0]["role"] == "system")
    assert [m["role"] for m in with_system["messages"]] == ["system", "user", "assistant"]
