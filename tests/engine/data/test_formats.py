"""Every format maps to the same canonical conversation; detection and column mapping."""

from __future__ import annotations

import pytest

from slm_workbench.engine.data import DataFormatError, detect_format, make_spec, to_record
from slm_workbench.engine.data.pipeline import plan

from .conftest import chat, jsonl

CONVERSATION = [{"role": "user", "content": "Name a prime."}, {"role": "assistant", "content": "7 is prime."}]


@pytest.mark.parametrize(
    ("row", "name"),
    [
        ({"messages": CONVERSATION}, "messages"),
        ({"prompt": "Name a prime.", "completion": "7 is prime."}, "prompt_completion"),
        ({"instruction": "Name a prime.", "input": "", "output": "7 is prime."}, "alpaca"),
        ({"instruction": "Name a prime.", "output": "7 is prime."}, "alpaca"),
        ({"question": "Name a prime.", "answer": "7 is prime."}, "prompt_completion"),
        ({"prompt": [CONVERSATION[0]], "completion": [CONVERSATION[1]]}, "prompt_completion"),
    ],
)
def test_each_format_becomes_the_same_conversation(row, name):
    detection = detect_format([row])
    assert detection.spec.name == name
    record, issues = to_record(row, spec=detection.spec)
    assert not issues
    assert record == {"messages": CONVERSATION}


def test_system_column_and_alpaca_input():
    spec = make_spec("alpaca")
    record, _ = to_record({"instruction": "Translate.", "input": "Bonjour", "output": "Hello", "system": "Be exact."}, spec=spec)
    assert record["messages"] == [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "Translate.\n\nBonjour"},
        {"role": "assistant", "content": "Hello"},
    ]


def test_messages_with_system_turn_keep_it_first():
    record, issues = to_record(chat(system="Be brief."), spec=make_spec("messages"))
    assert not issues and record["messages"][0] == {"role": "system", "content": "Be brief."}


def test_plain_text():
    spec = detect_format([{"text": "Once upon a time."}]).spec
    assert spec.name == "text"
    assert to_record({"text": "Once upon a time."}, spec=spec)[0] == {"text": "Once upon a time."}


def test_sharegpt_is_detected_with_its_role_mapping():
    row = {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]}
    spec = detect_format([row]).spec
    assert spec.columns == {"messages": "conversations", "role": "from", "content": "value"}
    assert to_record(row, spec=spec)[0] == {"messages": [{"role": "user", "content": "Hi"},
                                                         {"role": "assistant", "content": "Hello"}]}


def test_column_mapping_for_anything_else():
    row = {"q": "Name a prime.", "a": "7 is prime.", "id": 3}
    assert detect_format([row]).spec is None
    detection = detect_format([row], {"prompt": "q", "completion": "a"})
    assert detection.spec.name == "prompt_completion"
    record, issues = to_record(row, spec=detection.spec)
    assert record == {"messages": CONVERSATION}
    assert [(i.code, i.field, i.severity) for i in issues] == [("unexpected_field", "id", "warning")]


def test_role_mapping():
    row = {"messages": [{"role": "User", "content": "x"}, {"role": "bot", "content": "y"}]}
    record, issues = to_record(row, spec=make_spec("messages", roles={"User": "user", "bot": "assistant"}))
    assert not issues and [m["role"] for m in record["messages"]] == ["user", "assistant"]


def test_messages_as_json_text_in_a_csv_cell(write):
    import json

    path = write("d.csv", "messages\n" + '"' + json.dumps(CONVERSATION).replace('"', '""') + '"\n')
    the_plan = plan(str(path))
    assert the_plan.spec.name == "messages"
    record, issues = to_record(the_plan.head[0].value, spec=the_plan.spec)
    assert record == {"messages": CONVERSATION} and not issues


def test_unknown_columns_fail_early_naming_the_file_and_columns(write):
    path = write("d.jsonl", jsonl([{"foo": "a", "bar": "b"}]))
    with pytest.raises(DataFormatError) as exc:
        plan(str(path))
    assert exc.value.message == f"{path}: cannot tell the format: no known format fits the columns (foo, bar)"
    assert "--format" in exc.value.hint and "--map" in exc.value.hint


def test_a_chosen_format_whose_column_is_missing_says_which(write):
    path = write("d.jsonl", jsonl([chat()]))
    with pytest.raises(DataFormatError) as exc:
        plan(str(path), format="prompt_completion")
    assert "no column 'prompt'" in exc.value.message and str(path) in exc.value.message
    assert "--format messages" in exc.value.hint


def test_bad_mapping_and_roles_are_refused():
    with pytest.raises(DataFormatError, match="'answer' is not a field of format alpaca"):
        make_spec("alpaca", {"answer": "x"})
    with pytest.raises(DataFormatError, match="a role maps to one of"):
        make_spec("messages", roles={"human": "person"})


def test_text_template_splits_prompt_and_answer(write):
    path = write("d.jsonl", jsonl([{"q": "2+2?", "a": "4"}]))
    template = "### Question: {q}\n### Answer: {a}"
    the_plan = plan(str(path), template=template)
    record, issues = the_plan.template.render(the_plan.head[0].value, the_plan.head[0].loc, str(path))
    assert record == {"prompt": "### Question: 2+2?\n### Answer: ", "completion": "4"}
    with pytest.raises(DataFormatError, match=r"uses \{nope\}, which is not a column"):
        plan(str(path), template="{q} {nope}")
    with pytest.raises(DataFormatError, match="no {column} placeholder"):
        plan(str(path), template="no placeholders")
