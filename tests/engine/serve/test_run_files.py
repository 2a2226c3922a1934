"""A serve run's files as the panes read them: ``server.json`` only once it is whole, the request log
line by line as it grows, a damaged line kept as such."""

from __future__ import annotations

import json
from pathlib import Path

from slm_workbench.engine.events import CorruptLine
from slm_workbench.engine.serve.request_log import RequestLog
from slm_workbench.engine.serve.run_files import read_server_file, request_tail


def test_the_server_file_reads_as_none_until_it_is_a_whole_object(tmp_path: Path) -> None:
    assert read_server_file(tmp_path) is None
    (tmp_path / "server.json").write_text('{"url": "http://127.0.0.1:1')
    assert read_server_file(tmp_path) is None
    (tmp_path / "server.json").write_text("[1, 2]")
    assert read_server_file(tmp_path) is None
    (tmp_path / "server.json").write_text(json.dumps({"url": "http://127.0.0.1:8000/v1", "models": ["tiny"]}))
    assert read_server_file(tmp_path) == {"url": "http://127.0.0.1:8000/v1", "models": ["tiny"]}


def test_the_request_log_is_tailed_as_the_server_writes_it(tmp_path: Path) -> None:
    tail = request_tail(tmp_path)
    assert tail.read_new() == []  # no request yet: no file
    log = RequestLog(tmp_path / "requests.jsonl", echo=None)
    log.write(method="POST", path="/v1/chat/completions", status=200, model="tiny", prompt_tokens=31,
              completion_tokens=3, seconds=0.04)
    [first] = tail.read_new()
    assert isinstance(first, dict) and (first["model"], first["status"], first["completion_tokens"]) == ("tiny", 200, 3)
    with (tmp_path / "requests.jsonl").open("a") as fh:
        fh.write("{not json\n")
    log.write(method="GET", path="/v1/models", status=200)
    corrupt, second = tail.read_new()
    assert isinstance(corrupt, CorruptLine) and corrupt.line_no == 2 and "not JSON" in corrupt.reason
    assert second["path"] == "/v1/models" and tail.read_new() == []
