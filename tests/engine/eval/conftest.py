"""Eval fixtures: a small held-out file with JSON and text references, and a scripted answerer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write_jsonl

from slm_workbench.engine.eval.answerers import Answer
from slm_workbench.engine.errors import WorkbenchError

ROWS = [
    {"messages": [{"role": "user", "content": "Extract as JSON: Ana Lima, 30, Porto"},
                  {"role": "assistant", "content": '{"name": "Ana Lima", "age": 30, "city": "Porto"}'}]},
    {"messages": [{"role": "user", "content": "Extract as JSON: Bo Chen, 41, Oslo"},
                  {"role": "assistant", "content": '{"name": "Bo Chen", "age": 41, "city": "Oslo"}'}]},
    {"messages": [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "2 + 2 = 4."}]},
    {"messages": [{"role": "user", "content": "a conversation that ends with the user has no reference"}]},
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"},
                  {"role": "assistant", "content": "Paris."}]},
]


@pytest.fixture
def heldout(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "heldout.jsonl", ROWS)


class ScriptedAnswerer:
    """Answers from a table keyed by the last user turn; can fail on chosen prompts."""

    kind = "scripted"
    label = "scripted"

    def __init__(self, answers: dict[str, str], *, perplexity: bool = True, fail_on: set[str] = frozenset()) -> None:
        self.answers, self.scores_perplexity, self.fail_on = answers, perplexity, set(fail_on)
        self.asked: list[str] = []

    def answer(self, messages, max_new_tokens):  # noqa: ANN001, ANN201
        prompt = messages[-1]["content"]
        self.asked.append(prompt)
        if prompt in self.fail_on:
            raise WorkbenchError(f"cannot answer {prompt!r}")
        return Answer(self.answers.get(prompt, "I do not know"), 5, 0.01)

    def reference_nll(self, messages, reference):  # noqa: ANN001, ANN201
        return (2.0, 4) if self.scores_perplexity else None

    def close(self) -> None:
        pass
