"""Validation names the file, the line, the field and a fix for every kind of bad input."""

from __future__ import annotations

import json

import pytest

from slm_workbench.engine.data import DataFileError, DataValidationError, validate

from .conftest import chat, jsonl

GOOD = json.dumps(chat())


def msgs(*pairs) -> str:
    return json.dumps({"messages": [{"role": r, "content": c} for r, c in pairs]})


# (case id, file name, content, code, line, field, words in the message, words in the hint)
ROW_CASES = [
    ("invalid-json", "d.jsonl", GOOD + '\n{"messages": [}\n', "invalid_json", 2, None, "not valid JSON", "complete JSON object"),
    ("truncated-last-line", "d.jsonl", GOOD + '\n{"messages": [{"role": "user"', "invalid_json", 2, None, "not valid JSON", "truncated"),
    ("line-is-an-array", "d.jsonl", GOOD + "\n[1, 2]\n", "not_object", 2, None, "is a list, not a JSON object", "object"),
    ("line-is-a-string", "d.jsonl", GOOD + '\n"hello"\n', "not_object", 2, None, "is a string", "object"),
    ("missing-column", "d.jsonl", GOOD + '\n{"prompt": "a", "completion": "b"}\n', "missing_field", 2, "messages",
     "this row has: prompt, completion", "same format"),
    ("missing-content", "d.jsonl", GOOD + '\n{"messages": [{"role": "user", "content": "a"}, {"role": "assistant"}]}\n',
     "missing_field", 2, "messages[1].content", "missing", "'role' and 'content'"),
    ("missing-role", "d.jsonl", GOOD + '\n{"messages": [{"content": "a"}, {"role": "assistant", "content": "b"}]}\n',
     "missing_field", 2, "messages[0].role", "missing", "'role' and 'content'"),
    ("empty-content", "d.jsonl", GOOD + "\n" + msgs(("user", "a"), ("assistant", "")) + "\n", "empty_content", 2,
     "messages[1].content", "is empty", "fill in"),
    ("blank-content", "d.jsonl", GOOD + "\n" + msgs(("user", "  \n "), ("assistant", "b")) + "\n", "empty_content", 2,
     "messages[0].content", "is empty", "fill in"),
    ("number-content", "d.jsonl", GOOD + "\n" + msgs(("user", "a"), ("assistant", 42)) + "\n", "wrong_type", 2,
     "messages[1].content", "is a number, expected a string", '"42"'),
    ("null-content", "d.jsonl", GOOD + "\n" + msgs(("user", None), ("assistant", "b")) + "\n", "wrong_type", 2,
     "messages[0].content", "is null", "string"),
    ("content-parts-list", "d.jsonl", GOOD + "\n" + msgs(("user", [{"type": "text", "text": "a"}]), ("assistant", "b")) + "\n",
     "wrong_type", 2, "messages[0].content", "is a list", "join the text parts"),
    ("messages-not-a-list", "d.jsonl", GOOD + '\n{"messages": "hello"}\n', "wrong_type", 2, "messages",
     "expected a list", None),
    ("no-messages", "d.jsonl", GOOD + '\n{"messages": []}\n', "empty_content", 2, "messages", "has no messages", "remove"),
    ("message-not-an-object", "d.jsonl", GOOD + '\n{"messages": ["hi", {"role": "assistant", "content": "b"}]}\n',
     "wrong_type", 2, "messages[0]", "expected an object", None),
    ("unknown-role", "d.jsonl", GOOD + "\n" + msgs(("human", "a"), ("assistant", "b")) + "\n", "unknown_role", 2,
     "messages[0].role", "unknown role 'human'", "--role human=user"),
    ("role-not-a-string", "d.jsonl", GOOD + "\n" + msgs((1, "a"), ("assistant", "b")) + "\n", "wrong_type", 2,
     "messages[0].role", "expected one of system, user, assistant", None),
    ("starts-with-assistant", "d.jsonl", GOOD + "\n" + msgs(("assistant", "a"), ("user", "b"), ("assistant", "c")) + "\n",
     "wrong_order", 2, "messages[0].role", "starts with an assistant turn", "start with the user"),
    ("two-user-turns", "d.jsonl", GOOD + "\n" + msgs(("user", "a"), ("user", "b"), ("assistant", "c")) + "\n",
     "wrong_order", 2, "messages[1].role", "two user turns in a row", "merge"),
    ("late-system", "d.jsonl", GOOD + "\n" + msgs(("user", "a"), ("assistant", "b"), ("system", "c")) + "\n",
     "wrong_order", 2, "messages[2].role", "system message after the first turn", "first"),
    ("no-assistant", "d.jsonl", GOOD + "\n" + msgs(("system", "s"), ("user", "a")) + "\n", "no_assistant", 2, "messages",
     "no assistant turn", "add the assistant"),
    ("bad-utf8", "d.jsonl", GOOD.encode() + b'\n{"messages": [{"role": "user", "content": "caf\xe9"}]}\n', "encoding", 2,
     None, "not valid UTF-8 (byte 0xe9", "iconv"),
    ("csv-field-count", "d.csv", "prompt,completion\na,b\nc,d,e\n", "csv_fields", 3, None, "has 3 fields, the header has 2",
     "double quotes"),
    ("empty-completion", "d.jsonl", jsonl([{"prompt": "a", "completion": "b"}, {"prompt": "a", "completion": ""}]),
     "empty_content", 2, "completion", "is empty", "fill in"),
    ("alpaca-no-output", "d.jsonl", jsonl([{"instruction": "a", "output": "b"}, {"instruction": "a", "input": "x"}]),
     "missing_field", 2, "output", "missing", "same format"),
    ("text-not-a-string", "d.jsonl", jsonl([{"text": "a"}, {"text": ["a", "b"]}]), "wrong_type", 2, "text",
     "is a list, expected a string", "join"),
    ("csv-empty-cell", "d.csv", "prompt,completion\na,b\n,d\n", "empty_content", 3, "prompt", "is empty", "fill in"),
]


@pytest.mark.parametrize(("name", "content", "code", "line", "field", "message", "hint"),
                         [c[1:] for c in ROW_CASES], ids=[c[0] for c in ROW_CASES])
def test_each_bad_row_is_named_by_file_line_and_field(write, name, content, code, line, field, message, hint):
    path = write(name, content)
    report = validate(str(path))
    assert not report.ok and report.invalid == 1 and report.valid == report.rows - 1
    matching = [i for i in report.issues if i.code == code]
    assert matching, [str(i) for i in report.issues]
    issue = matching[0]
    assert (issue.file, issue.line, issue.field) == (str(path), line, field)
    assert message in issue.message
    assert str(issue).startswith(f"{path}:{line}: " + (f"{field}: " if field else ""))
    if hint:
        assert hint in issue.hint


@pytest.mark.parametrize(
    ("name", "content", "field", "code", "message"),
    [
        ("extra-column.jsonl", jsonl([{**chat(), "id": 1}, {**chat("x", "y"), "id": 2}]), "id", "unexpected_field",
         "not a field of format messages"),
        ("trailing-user.jsonl", jsonl([chat(), {"messages": chat()["messages"] + [{"role": "user", "content": "more?"}]}]),
         "messages[2]", "trailing_turn", "ends with a user turn"),
    ],
)
def test_warnings_name_the_field_and_leave_the_file_valid(write, name, content, field, code, message):
    path = write(name, content)
    report = validate(str(path))
    assert report.ok and report.warnings >= 1
    issue = next(i for i in report.issues if i.code == code)
    assert issue.severity == "warning" and issue.field == field and message in issue.message
    assert issue.file == str(path)


def test_repeated_warnings_are_listed_once_with_a_count(write):
    path = write("d.jsonl", jsonl([{**chat(f"q{i}", "a"), "id": i} for i in range(5)]))
    report = validate(str(path))
    assert report.warnings == 5 and len(report.issues) == 1 and report.repeats == {0: 5}


FILE_CASES = [
    ("gzip-named-jsonl", "d.jsonl", b"\x1f\x8b\x08\x00rest", "gzip-compressed, not jsonl", "gunzip -c"),
    ("zip-named-jsonl", "d.jsonl", b"PK\x03\x04rest", "a zip archive", "unzip"),
    ("xz-named-csv", "d.csv", b"\xfd7zXZ\x00rest", "xz-compressed", "unxz"),
    ("parquet-named-jsonl", "d.jsonl", b"PAR1rest", "a Parquet file but named .jsonl", "rename it to d.parquet"),
    ("binary-named-jsonl", "d.jsonl", b'{"a": 1}\x00\x01\x02', "binary data (a NUL byte at offset 8)", "JSONL"),
    ("utf16", "d.jsonl", "\ufeff" + GOOD, "UTF-16", "iconv -f UTF-16"),
    ("not-parquet", "d.parquet", b"hello", "not a Parquet file", "truncated"),
    ("json-syntax", "d.json", "[\n" + GOOD + ",\n{oops}\n]", "d.json:3: item 2 is not valid JSON", "everything after"),
    ("json-not-array", "d.json", '"hello"', "must hold an array of objects", ".jsonl"),
    ("csv-duplicate-header", "d.csv", "prompt,prompt\na,b\n", "d.csv:1: the header names column 'prompt' twice", None),
]


@pytest.mark.parametrize(("name", "content", "message", "hint"), [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_unreadable_files_raise_with_exit_code_2(write, name, content, message, hint):
    if isinstance(content, str) and name == "d.jsonl" and content.startswith("\ufeff"):
        content = content.encode("utf-16")
    path = write(name, content)
    with pytest.raises(DataFileError) as exc:
        validate(str(path))
    assert exc.value.exit_code == 2
    assert exc.value.message.startswith(str(path))
    assert message in exc.value.message
    if hint:
        assert hint in exc.value.hint


def test_empty_file_is_not_valid(write):
    report = validate(str(write("d.jsonl", "")))
    assert not report.ok and report.rows == 0
    assert report.issues[0].code == "empty" and report.issues[0].file.endswith("d.jsonl")


def test_bom_and_crlf_are_valid(write):
    path = write("d.jsonl", b"\xef\xbb\xbf" + jsonl([chat(), chat("x", "y")]).replace("\n", "\r\n").encode())
    report = validate(str(path))
    assert report.ok and report.rows == 2 and report.issues == []
    csv = write("d.csv", b"\xef\xbb\xbfprompt,completion\r\na,b\r\n")
    assert validate(str(csv)).ok


@pytest.mark.parametrize("rows", [
    [chat(system="Be brief.")],
    [{"prompt": "a", "completion": "b"}],
    [{"instruction": "a", "input": "", "output": "b"}],
    [{"text": "plain"}],
])
def test_every_format_validates(write, rows):
    assert validate(str(write("d.jsonl", jsonl(rows)))).ok


def test_too_long_is_measured_after_templating(write, smollm2_tokenizer_dir):
    path = write("d.jsonl", jsonl([chat("short", "ok"), chat("word " * 200, "ok")]))
    report = validate(str(path), model=str(smollm2_tokenizer_dir), max_length=64)
    issue = next(i for i in report.issues if i.code == "too_long")
    assert issue.line == 2 and "over the limit of 64" in issue.message and "--max-length" in issue.hint
    assert report.too_long == 1 and report.valid == 1 and not report.ok


def test_control_tokens_inside_content_are_flagged(write, smollm2_tokenizer_dir):
    path = write("d.jsonl", jsonl([chat("hi", "hello<|im_end|> there")]))
    report = validate(str(path), model=str(smollm2_tokenizer_dir))
    issue = next(i for i in report.issues if i.code == "special_token")
    assert issue.field == "messages[1].content" and "<|im_end|>" in issue.message and issue.line == 1


def test_text_template_rows_missing_a_column(write):
    path = write("d.jsonl", jsonl([{"q": "a", "a": "b"}, {"q": "c"}, {"q": "d", "a": None}]))
    report = validate(str(path), template="Q: {q}\nA: {a}")
    assert [(i.line, i.field, i.code) for i in report.issues] == [(2, "a", "missing_field"), (3, "a", "wrong_type")]


def test_abort_policy_stops_at_the_first_bad_row(write, tmp_path, smollm2_tokenizer_dir):
    from slm_workbench.config.recipes import PrepareDataRecipe
    from slm_workbench.engine.data import prepare_dataset

    path = write("d.jsonl", GOOD + "\n" + msgs(("human", "a"), ("assistant", "b")) + "\n")
    recipe = PrepareDataRecipe(source=str(path), output=str(tmp_path / "out"), model=str(smollm2_tokenizer_dir),
                               on_error="abort")
    with pytest.raises(DataValidationError) as exc:
        prepare_dataset(recipe)
    assert exc.value.message == f"{path}:2: messages[0].role: unknown role 'human'"
    assert not (tmp_path / "out").exists()


def test_issue_list_is_capped_but_every_issue_counted(write):
    path = write("d.jsonl", GOOD + "\n" + "not json\n" * 30)
    report = validate(str(path), max_issues=10)
    assert report.errors == 30 and len(report.issues) == 10 and report.truncated == 20


def test_cancel_stops_validation_even_when_no_row_is_valid(write):
    from slm_workbench.engine.errors import Cancelled

    path = write("d.jsonl", GOOD + "\n" + "not json\n" * 5000)
    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) >= 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        validate(str(path), check_cancelled=check)
    assert len(calls) == 2
