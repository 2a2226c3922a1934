"""The generation loop with a scripted teacher: prompts, every filter, the checker, stop and resume,
a torn last line, errors asked again, a resume with other settings refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.config.generate import FilterSettings, GenerationSettings
from slm_workbench.engine.generate.filters import load_checker, verdict
from slm_workbench.engine.generate.layout import Verdict, read_verdict
from slm_workbench.engine.generate.loop import Teacher, generate
from slm_workbench.engine.generate.prompts import load_prompts
from slm_workbench.engine.errors import Cancelled, WorkbenchError
from tests.helpers import read_jsonl

from .conftest import EXTRACT, ROWS, ScriptedTeacher
from tests.helpers import write_jsonl

TEACHER = Teacher("scripted-spec", "scripted", "scripted")


def settings(prompts: Path | str, **kw) -> GenerationSettings:  # noqa: ANN003
    return GenerationSettings(prompts=str(prompts), **kw)


def run(out: Path, prompts_path: Path | str, teacher: ScriptedTeacher, **kw) -> dict:  # noqa: ANN003
    checker = kw.pop("checker_fn", None)
    s = settings(prompts_path, **kw)
    return generate(teacher, load_prompts(s.prompts, s.max_prompts), out, s, TEACHER, checker=checker)


def test_prompts_from_a_dataset_end_at_the_last_user_turn_with_its_reference(chats: Path) -> None:
    found = load_prompts(str(chats))
    assert [p.messages[-1]["content"] for p in found.prompts] == [
        EXTRACT[0][0], EXTRACT[1][0], "Capital of France?", "a prompt with no answer yet"]
    assert [p.reference for p in found.prompts] == [EXTRACT[0][1], EXTRACT[1][1], "Paris.", None]
    assert [m["role"] for m in found.prompts[2].messages] == ["system", "user", "assistant", "user"]
    assert found.sha256 and len(found.sha256) == 64
    assert len(load_prompts(str(chats), 2).prompts) == 2
    demo = load_prompts("slmw:demo", 5)
    assert len(demo.prompts) == 5 and all(p.reference for p in demo.prompts)


def test_prompts_from_a_text_file_one_per_line(prompts_txt: Path) -> None:
    found = load_prompts(str(prompts_txt))
    assert [p.messages for p in found.prompts][:2] == [[{"role": "user", "content": "first prompt"}],
                                                      [{"role": "user", "content": "second prompt"}]]
    assert len(found.prompts) == 5 and all(p.reference is None for p in found.prompts)


def test_no_prompts_or_no_file_is_one_clear_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(WorkbenchError, match=r"empty.txt: no prompts in it"):
        load_prompts(str(empty))
    texts = write_jsonl(tmp_path / "texts.jsonl", [{"text": "plain text, no user turn"}])
    with pytest.raises(WorkbenchError, match=r"texts.jsonl: no prompts in it \(1 rows without a user turn"):
        load_prompts(str(texts))
    with pytest.raises(WorkbenchError, match="no such prompts file or dataset: .*missing.jsonl"):
        load_prompts(str(tmp_path / "missing.jsonl"))


def test_every_filter_gives_its_verdict() -> None:
    prompt = [{"role": "user", "content": "q"}]

    def judge(answer: str, *, finished: bool = True, kept=frozenset(), checker=None, **kw) -> str:  # noqa: ANN001, ANN003
        return str(verdict(answer, finished=finished, messages=prompt, reference='{"a": 1}', kept_before=set(kept),
                           settings=FilterSettings(**kw), checker=checker))

    assert judge("fine") == "kept"
    assert judge("   ").startswith("invalid: messages[1].content: is empty")
    assert verdict("x", finished=True, messages=[{"role": "assistant", "content": "q"}], reference=None,
                   kept_before=set(), settings=FilterSettings(), checker=None).kind == "invalid"
    assert judge("not json", valid_json=True) == "not JSON"
    assert judge('{"a": 1}\nmore text', valid_json=True) == "kept"
    assert judge("[1, 2]", valid_json=True) == "kept"
    assert judge("abc", min_chars=4) == "too short"
    assert judge("abcdef", max_chars=5) == "too long"
    assert judge("same", kept={"same"}) == "duplicate"
    assert judge("same", kept={"same"}, dedupe=False) == "kept"
    assert judge("cut", finished=False) == "truncated"
    assert judge("cut", finished=False, drop_truncated=False) == "kept"
    extraction = load_checker("slmw:check_extraction")
    assert judge('{"a": 1}', checker=extraction) == "kept"
    assert judge('{"a": 2}', checker=extraction) == "checker: rejected"
    assert judge("anything", checker=lambda *_: 1 / 0).startswith("checker: raised ZeroDivisionError")


def test_the_demo_checker_passes_rows_without_a_json_reference() -> None:
    check = load_checker("slmw:check_extraction")
    assert check('{"name": "Ana"}', '{"name": "Ana"}', []) and not check("{}", '{"name": "Ana"}', [])
    assert check("Paris.", "Paris", []) and check("whatever", None, [])


def test_checkers_from_a_file_or_a_module_and_bad_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_checks.py").write_text("def short(answer, reference, messages):\n    return len(answer) < 5\n")
    assert load_checker(f"{tmp_path / 'my_checks.py'}:short")("abc", None, []) is True
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_checker("my_checks:short")("abcdef", None, []) is False
    (tmp_path / "broken.py").write_text("def oops(:\n")
    cases = {"no_colon": "module:function", f"{tmp_path / 'nope.py'}:f": "no such file",
             f"{tmp_path / 'my_checks.py'}:missing": "has no function missing", "no_such_module_x:f": "cannot import",
             f"{tmp_path / 'broken.py'}:oops": "cannot import .*SyntaxError"}
    for spec, message in cases.items():
        with pytest.raises(WorkbenchError, match=message):
            load_checker(spec)


def test_rows_data_and_manifest(chats: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    answers = {EXTRACT[0][0]: EXTRACT[0][1], EXTRACT[1][0]: "not the object"}
    teacher = ScriptedTeacher(lambda prompt, _s: answers.get(prompt, f"answer to {prompt}"))
    manifest = run(out, chats, teacher, checker_fn=load_checker("slmw:check_extraction"),
                   filters={"checker": "slmw:check_extraction"})
    rows = read_jsonl(out / "rows.jsonl")
    assert [r["id"] for r in rows] == ["p0-s0", "p1-s0", "p2-s0", "p3-s0"]
    assert [(r["verdict"], r["reason"]) for r in rows] == [("kept", ""), ("checker", "rejected"), ("kept", ""), ("kept", "")]
    assert rows[0]["reference"] == EXTRACT[0][1] and rows[0]["finished"] is True and rows[0]["tokens"] == 5
    data = read_jsonl(out / "data.jsonl")
    assert data == [{"messages": [*r["messages"], {"role": "assistant", "content": r["answer"]}]}
                    for r in rows if r["kept"]]
    assert manifest == json.loads((out / "manifest.json").read_text())
    assert manifest["teacher"] == {"spec": "scripted-spec", "label": "scripted", "kind": "scripted"}
    assert manifest["counts"] == {"attempted": 4, "kept": 3, "dropped": {"checker": 1}, "errors": 0, "kept_fraction": 0.75}
    assert manifest["prompts"]["count"] == 4 and manifest["prompts"]["source"] == str(chats)
    assert manifest["settings"]["filters"]["checker"] == "slmw:check_extraction" and manifest["created"] <= manifest["updated"]


def test_samples_are_seeded_per_answer_and_deduped_per_prompt(prompts_txt: Path, tmp_path: Path) -> None:
    teacher = ScriptedTeacher(lambda prompt, s: "same" if s.seed % 2 else f"{prompt} #{s.seed}")
    run(tmp_path / "out", prompts_txt, teacher, max_prompts=2, samples_per_prompt=3, temperature=0.7, top_p=0.9, seed=10)
    rows = read_jsonl(tmp_path / "out" / "rows.jsonl")
    assert [r["id"] for r in rows] == ["p0-s0", "p0-s1", "p0-s2", "p1-s0", "p1-s1", "p1-s2"]
    assert [s.seed for _p, s in teacher.asked] == [10, 11, 12, 13, 14, 15]
    assert {(s.temperature, s.top_p) for _p, s in teacher.asked} == {(0.7, 0.9)}
    assert [r["verdict"] for r in rows] == ["kept", "kept", "kept", "kept", "kept", "duplicate"]
    greedy = ScriptedTeacher()
    run(tmp_path / "greedy", prompts_txt, greedy, max_prompts=1)
    assert greedy.asked == [("first prompt", None)]  # temperature 0: the greedy path, no sampling


def test_stop_then_resume_loses_and_repeats_nothing(prompts_txt: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"

    def stop_at(n: int):  # noqa: ANN202
        def hook(count: int) -> None:
            if count == n:
                raise Cancelled()
        return hook

    def seeded(prompt: str, sampling) -> str:  # noqa: ANN001
        return f"{prompt} #{sampling.seed}"

    with pytest.raises(Cancelled):
        run(out, prompts_txt, ScriptedTeacher(seeded, hook=stop_at(3)), samples_per_prompt=2, temperature=1.0)
    assert [r["id"] for r in read_jsonl(out / "rows.jsonl")] == ["p0-s0", "p0-s1"]
    assert len(read_jsonl(out / "data.jsonl")) == 2  # rewritten on the way out
    again = ScriptedTeacher(seeded)
    manifest = run(out, prompts_txt, again, samples_per_prompt=2, temperature=1.0)
    ids = [r["id"] for r in read_jsonl(out / "rows.jsonl")]
    assert sorted(ids) == sorted(f"p{i}-s{k}" for i in range(5) for k in range(2)) and len(ids) == len(set(ids))
    assert len(again.asked) == 8 and manifest["counts"]["attempted"] == 10
    assert len(read_jsonl(out / "data.jsonl")) == 10


def test_a_torn_last_line_is_cut_and_a_missing_data_row_restored(prompts_txt: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(out, prompts_txt, ScriptedTeacher(), max_prompts=2)
    with open(out / "rows.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"id": "p2-s0", "prompt_ind')  # a kill in the middle of a write
    (out / "data.jsonl").write_text((out / "data.jsonl").read_text().splitlines()[0] + "\n")  # killed before its append
    teacher = ScriptedTeacher()
    run(out, prompts_txt, teacher)
    assert [p for p, _s in teacher.asked] == ["third prompt", "fourth prompt", "fifth prompt"]
    rows = read_jsonl(out / "rows.jsonl")
    assert [r["id"] for r in rows] == [f"p{i}-s0" for i in range(5)]
    assert len(read_jsonl(out / "data.jsonl")) == 5


def test_failed_answers_are_asked_again_on_resume(prompts_txt: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    manifest = run(out, prompts_txt, ScriptedTeacher(fail_on={"second prompt"}))
    assert manifest["counts"]["errors"] == 1 and manifest["counts"]["kept"] == 4
    assert read_verdict(read_jsonl(out / "rows.jsonl")[1]) == Verdict("error", "cannot answer 'second prompt'")
    teacher = ScriptedTeacher()
    manifest = run(out, prompts_txt, teacher)
    assert teacher.asked == [("second prompt", None)]
    assert manifest["counts"]["errors"] == 0 and manifest["counts"]["kept"] == 5
    assert [json.loads(line)["messages"][0]["content"] for line in (out / "data.jsonl").read_text().splitlines()] == [
        "first prompt", "second prompt", "third prompt", "fourth prompt", "fifth prompt"]  # in prompt order


def test_rows_written_with_verdicts_as_strings_still_resume(prompts_txt: Path, tmp_path: Path) -> None:
    """A generation written before verdicts were fields (``"kind: detail"`` in ``verdict``) goes on:
    its failed answer is asked again and its dropped ones count by kind."""
    out = tmp_path / "out"
    run(out, prompts_txt, ScriptedTeacher(fail_on={"second prompt"}))
    rows = read_jsonl(out / "rows.jsonl")
    for row in rows:  # as the old writer left them
        row["verdict"] = str(Verdict(row.pop("verdict"), row.pop("reason")))
    rows[4] |= {"kept": False, "verdict": "checker: rejected"}
    assert [r["verdict"] for r in rows] == ["kept", "error: cannot answer 'second prompt'", "kept", "kept",
                                            "checker: rejected"]
    write_jsonl(out / "rows.jsonl", rows)
    teacher = ScriptedTeacher()
    manifest = run(out, prompts_txt, teacher)
    assert teacher.asked == [("second prompt", None)]
    assert manifest["counts"]["errors"] == 0 and manifest["counts"]["dropped"] == {"checker": 1}
    assert manifest["counts"]["kept"] == 4
    assert read_verdict({"verdict": "checker: raised ValueError: x: y"}) == Verdict("checker", "raised ValueError: x: y")


def test_three_failures_in_a_row_stop_with_the_rows_kept(prompts_txt: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    failing = {"second prompt", "third prompt", "fourth prompt"}
    with pytest.raises(WorkbenchError, match="3 answers in a row failed, the last on prompt 4"):
        run(out, prompts_txt, ScriptedTeacher(fail_on=failing))
    assert [r["verdict"] for r in read_jsonl(out / "rows.jsonl")][0] == "kept"
    assert len(read_jsonl(out / "data.jsonl")) == 1


def test_a_resume_with_other_settings_is_refused_naming_them(prompts_txt: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(out, prompts_txt, ScriptedTeacher(), max_prompts=2)
    with pytest.raises(WorkbenchError, match=r"other settings \(max_new_tokens, filters differ\)"):
        run(out, prompts_txt, ScriptedTeacher(), max_prompts=2, max_new_tokens=9, filters={"valid_json": True})
    prompts_txt.write_text("another prompt\n", encoding="utf-8")
    with pytest.raises(WorkbenchError, match=r"the prompts' content \(sha256\)"):
        run(out, prompts_txt, ScriptedTeacher())
    other = Teacher("other", "other", "scripted")
    s = settings(prompts_txt)
    with pytest.raises(WorkbenchError, match=r"\(teacher, the prompts"):
        generate(ScriptedTeacher(), load_prompts(s.prompts), out, s, other)
    assert len(read_jsonl(out / "rows.jsonl")) == 2  # nothing written by the refused runs


def test_limits_may_change_on_resume(prompts_txt: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(out, prompts_txt, ScriptedTeacher(), max_prompts=2, retries=1)
    manifest = run(out, prompts_txt, ScriptedTeacher(), max_prompts=4, retries=5, threads=2, max_requests=9)
    assert manifest["counts"]["attempted"] == 4 and manifest["settings"]["max_prompts"] == 4


def test_no_row_kept_fails_the_stage_clearly(prompts_txt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from slm_workbench.config.generate import GenerateRecipe
    from slm_workbench.engine.generate import stage as generate_stage
    from slm_workbench.engine.runs.context import RunContext

    monkeypatch.setattr("slm_workbench.engine.eval.answerers.open_answerer",
                        lambda *a, **k: ScriptedTeacher(lambda p, s: "not json"))
    recipe = GenerateRecipe(teacher="http://127.0.0.1:9/v1", prompts=str(prompts_txt), filters={"valid_json": True})
    with pytest.raises(WorkbenchError, match=r"no answer was kept \(dropped: \{'not JSON': 5\}\)"):
        generate_stage.run(recipe, RunContext(tmp_path))
    assert len(read_jsonl(tmp_path / "artifacts" / "generated" / "rows.jsonl")) == 5
    assert ROWS  # the shared prompts stay as written
