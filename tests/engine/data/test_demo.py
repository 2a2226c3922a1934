"""The shipped demo dataset: valid, small, reproducible from its generator, checkable."""

from __future__ import annotations

import json

from slm_workbench.demo import DEMO_DATASET
from slm_workbench.demo import make_demo_data as demo
from slm_workbench.engine.data import open_source, validate


def test_demo_file_is_valid_small_and_named_by_alias():
    assert open_source("slmw:demo").path == DEMO_DATASET
    assert DEMO_DATASET.stat().st_size < 300_000
    report = validate("slmw:demo")
    assert report.ok and report.rows >= 500 and report.issues == []


def test_demo_file_is_exactly_what_the_generator_writes():
    expected = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in demo.build())
    assert DEMO_DATASET.read_text(encoding="utf-8") == expected


def test_skill_answers_are_checkable_and_general_examples_are_mixed_in():
    rows = [json.loads(line) for line in DEMO_DATASET.read_text(encoding="utf-8").splitlines()]
    skill = [r for r in rows if r["messages"][0]["content"].startswith(demo.INSTRUCTIONS)]
    assert len(skill) == 400 and 100 <= len(rows) - len(skill) <= 250
    for row in skill:
        answer = json.loads(row["messages"][-1]["content"])
        assert list(answer) == ["name", "age", "city"]
        assert demo.check_extraction(answer, row["messages"][-1]["content"] + "\nextra text")
        assert answer["name"] in row["messages"][0]["content"] and answer["city"] in row["messages"][0]["content"]
    assert len({json.dumps(r, sort_keys=True) for r in rows}) == len(rows)


def test_eval_examples_use_only_held_out_names():
    text = DEMO_DATASET.read_text(encoding="utf-8")
    for prompt, expected in demo.eval_examples(30):
        assert expected["name"].split()[0] in demo.EVAL_FIRST and expected["city"] in demo.EVAL_CITIES
        assert expected["name"] not in text and expected["city"] not in text
        assert not demo.check_extraction(expected, "Sure! Here is the JSON you asked for.")
        assert demo.check_extraction(expected, demo.answer(expected))


def test_distillation_prompts_are_new_sentences_whose_answers_are_in_them():
    from slm_workbench.demo import DEMO_PROMPTS

    assert open_source("slmw:demo-prompts").path == DEMO_PROMPTS
    expected = "".join(json.dumps(demo._chat((p, demo.answer(e))), ensure_ascii=False) + "\n"
                       for p, e in demo.prompt_pool())
    assert DEMO_PROMPTS.read_text(encoding="utf-8") == expected  # what the generator writes
    seen = {json.loads(line)["messages"][0]["content"] for line in DEMO_DATASET.read_text().splitlines()}
    seen |= {p for p, _ in demo.eval_examples(demo.EVAL_ROWS)}
    pool = demo.prompt_pool()
    assert len(pool) == demo.PROMPT_ROWS and not seen & {p for p, _ in pool}
    unseen = [e for _, e in pool if e["name"].split()[0] not in demo.FIRST]
    assert 0.65 < len(unseen) / len(pool) < 0.85  # names never trained on: a student that memorises fails them
    assert not set(demo.POOL_FIRST + demo.POOL_LAST + demo.POOL_CITIES) & set(
        demo.EVAL_FIRST + demo.EVAL_LAST + demo.EVAL_CITIES + demo.FIRST + demo.LAST + demo.CITIES)
    for prompt, fact in pool:
        assert fact["name"] in prompt and fact["city"] in prompt
        assert fact["city"] not in demo.EVAL_CITIES and fact["name"].split()[0] not in demo.EVAL_FIRST
