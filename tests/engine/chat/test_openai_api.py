"""The OpenAI wire format: requests are checked field by field; stop strings cut the text."""

from __future__ import annotations

import pytest

from slm_workbench.engine.serve.openai_api import ApiError, StopScanner, parse_chat_request


def test_a_full_request() -> None:
    req = parse_chat_request({
        "model": "x", "messages": [{"role": "developer", "content": "Be brief."},
                                   {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "stream": True, "stream_options": {"include_usage": True}, "max_completion_tokens": 9,
        "temperature": 0.5, "top_p": 0.9, "seed": 3, "stop": "END", "repetition_penalty": 1.1,
    })
    assert req.messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert (req.stream, req.include_usage, req.stop) == (True, True, ("END",))
    p = req.params
    assert (p.max_new_tokens, p.temperature, p.top_p, p.seed, p.repetition_penalty) == (9, 0.5, 0.9, 3, 1.1)


@pytest.mark.parametrize(("body", "param"), [
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "x"}], "temperature": 9}, "temperature"),
    ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
    ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
    ({"messages": [{"role": "user", "content": "x"}], "seed": "a"}, "seed"),
])
def test_bad_fields_are_named(body: dict, param: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_chat_request(body)
    assert err.value.status == 400 and err.value.param == param


def test_stop_strings_split_across_tokens() -> None:
    scanner = StopScanner(("###",))
    out = "".join(scanner.feed(t) for t in ["Par", "is #", "#", "# more"])
    assert scanner.hit and out + scanner.rest() == "Paris "
    plain = StopScanner(("###",))
    assert "".join(plain.feed(t) for t in ["a#", "b"]) + plain.rest() == "a#b" and not plain.hit
