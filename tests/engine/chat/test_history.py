"""Conversations saved per workspace, reopened, and exported as a chat dataset."""

from __future__ import annotations

import json
from pathlib import Path

from slm_workbench.engine.chat.history import ChatStore


def test_save_reopen_and_list(slmw_home: Path) -> None:
    store = ChatStore()
    conv = store.create(["a", "b"], {"temperature": 0.0})
    for col, answer in ((0, "Paris."), (1, "Lyon.")):
        store.append(conv, col, {"role": "user", "content": "Capital of France?"})
        store.append(conv, col, {"role": "assistant", "content": answer}, {"ttft_s": 0.1, "tok_s": 20.0, "tokens": 3})
    assert (slmw_home / "chats" / f"{conv.id}.jsonl").is_file()
    again = store.load(conv.id)
    assert again.models == ["a", "b"] and again.title == "Capital of France?" and again.turns == 1
    assert again.columns[1][1]["content"] == "Lyon." and again.stats[0][0]["tok_s"] == 20.0
    assert [c.id for c in store.list()] == [conv.id]


def test_a_line_cut_by_a_crash_is_skipped(slmw_home: Path) -> None:
    store = ChatStore()
    conv = store.create(["a"])
    store.append(conv, 0, {"role": "user", "content": "hi"})
    with open(slmw_home / "chats" / f"{conv.id}.jsonl", "a") as fh:
        fh.write('{"type": "turn", "colu')
    assert store.load(conv.id).columns == [[{"role": "user", "content": "hi"}]]


def test_export_is_a_messages_dataset_the_data_engine_reads(slmw_home: Path, tmp_path: Path) -> None:
    store = ChatStore()
    conv = store.create(["a"])
    store.append(conv, 0, {"role": "system", "content": "Be brief."})
    store.append(conv, 0, {"role": "user", "content": "Capital of France?"})
    store.append(conv, 0, {"role": "assistant", "content": "Paris."}, {"tokens": 2})
    store.append(conv, 0, {"role": "user", "content": "And Italy?"})
    store.append(conv, 0, {"role": "assistant", "content": "Ro"}, {"tokens": 1, "stopped": True})
    empty = store.create(["b"])  # never answered: not exported
    store.append(empty, 0, {"role": "user", "content": "hello?"})
    out = tmp_path / "chats.jsonl"
    assert store.export_dataset(out) == 1
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"},
                                  {"role": "assistant", "content": "Paris."}]}]  # the stopped answer is cut

    from slm_workbench.engine.data.preview import preview

    seen = preview(str(out))
    assert seen.detection.spec is not None and seen.detection.spec.name == "messages" and not seen.issues
