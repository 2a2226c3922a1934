"""The ``data.generate`` stage on real teachers: the tiny model as a detached job killed with -9 and
resumed, its sampling (PyTorch and ONNX Runtime GenAI), an endpoint (a stub OpenAI-compatible
server on 127.0.0.1) with its request budget and its key, an endpoint that goes away; and the
generated data.jsonl prepared by the Data engine as a training set."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from slm_workbench.config.generate import GenerateRecipe
from slm_workbench.engine.generate.stage import run
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.runs.context import RunContext
from slm_workbench.engine.runs.store import RunStore
from tests.helpers import read_jsonl, wait_for_state, wait_until

from .conftest import GenStub, StubServer

HOLD_CHECKER = """
import time
from pathlib import Path

def check(answer, reference, messages):
    count = Path({folder!r}) / "count"
    n = int(count.read_text()) + 1 if count.exists() else 1
    count.write_text(str(n))
    while n == {hold_at} and not (Path({folder!r}) / "release").exists():
        time.sleep(0.05)  # held here until the test has killed the job
    return True
"""


def test_a_job_killed_with_9_resumes_with_no_row_lost_or_repeated(tiny_model_dir: Path, prompts_txt: Path,
                                                                  tmp_path: Path) -> None:
    from slm_workbench.engine.runs.launcher import resume_job, start_recipe

    hold = tmp_path / "hold"
    hold.mkdir()
    (tmp_path / "hold_checker.py").write_text(HOLD_CHECKER.format(folder=str(hold), hold_at=4), encoding="utf-8")
    out = tmp_path / "generated"
    recipe = GenerateRecipe(teacher=str(tiny_model_dir), prompts=str(prompts_txt), samples_per_prompt=2,
                            temperature=0.9, max_new_tokens=4, output=str(out),
                            filters={"drop_truncated": False, "checker": f"{tmp_path / 'hold_checker.py'}:check"})
    run_dir = start_recipe(recipe, title="generate")
    wait_until(lambda: (hold / "count").exists() and (hold / "count").read_text() == "4", timeout=120,
               what="the fourth answer to reach the checker")
    info = RunStore(run_dir.parent).info(run_dir)
    os.killpg(info.status.pgid, signal.SIGKILL)
    info = wait_for_state(run_dir, "interrupted")
    assert [r["id"] for r in read_jsonl(out / "rows.jsonl")] == ["p0-s0", "p0-s1", "p1-s0"]
    (hold / "release").touch()
    resume_job(info)
    wait_for_state(run_dir, "done", timeout=120)
    rows = read_jsonl(out / "rows.jsonl")
    ids = [r["id"] for r in rows]
    assert sorted(ids) == sorted(f"p{i}-s{k}" for i in range(5) for k in range(2)) and len(set(ids)) == len(ids)
    kept = [r for r in rows if r["kept"]]
    assert read_jsonl(out / "data.jsonl") == [
        {"messages": [*r["messages"], {"role": "assistant", "content": r["answer"]}]} for r in kept]
    manifest = (out / "manifest.json").read_text()
    assert '"attempted": 10' in manifest and f'"kept": {len(kept)}' in manifest
    metrics = read_jsonl(run_dir / "metrics.jsonl")
    assert metrics[-1]["answers"] == 10 and "kept_fraction" in metrics[-1] and "tokens_per_s" in metrics[-1]


def _sampling_checks(answerer) -> None:  # noqa: ANN001
    from slm_workbench.engine.measure.backends import Sampling

    messages = [{"role": "user", "content": "Say something."}]
    first = answerer.answer(messages, 8, Sampling(0.9, 0.95, seed=1))
    assert answerer.answer(messages, 8, Sampling(0.9, 0.95, seed=1)).text == first.text  # seeded
    others = {answerer.answer(messages, 8, Sampling(1.5, 1.0, seed=s)).text for s in (2, 3, 4)}
    assert len(others | {first.text}) > 1  # sampled, not greedy
    greedy = answerer.answer(messages, 8)
    assert answerer.answer(messages, 8, Sampling(0.0)).text == greedy.text  # temperature 0 is the greedy path
    ids = answerer._prompt_ids(messages)
    assert len(answerer.backend.greedy(ids, 8, stop_at_eos=True).tokens) == greedy.tokens
    assert greedy.tokens == 8 and greedy.finished is False  # cut off at max_new_tokens


def test_torch_and_genai_teachers_sample_with_their_seed(tiny_model_dir: Path, tiny_variants: dict[str, Path]) -> None:
    import torch

    from slm_workbench.engine.eval.answerers import LocalAnswerer

    torch.set_num_threads(1)
    _sampling_checks(LocalAnswerer("transformers", tiny_model_dir, label="torch"))
    _sampling_checks(LocalAnswerer("onnx", tiny_variants["fp32"], label="onnx"))


def test_the_generated_data_prepares_as_a_training_set(tiny_model_dir: Path, chats: Path, tmp_path: Path) -> None:
    from slm_workbench.config.recipes import PrepareDataRecipe
    from slm_workbench.engine.data import prepare_dataset

    recipe = GenerateRecipe(teacher=str(tiny_model_dir), prompts=str(chats), max_new_tokens=6, temperature=0.9,
                            filters={"drop_truncated": False})
    run(recipe, RunContext(tmp_path))
    data = tmp_path / "artifacts" / "generated" / "data.jsonl"
    kept = len(read_jsonl(data))
    assert kept == 4
    result = prepare_dataset(PrepareDataRecipe(source=str(data), output=str(tmp_path / "prepared"),
                                               model=str(tiny_model_dir), eval_fraction=0.25, on_error="abort"))
    assert result.train_rows + result.eval_rows == kept and not any(result.dropped.values())


def ctx(folder: Path) -> RunContext:
    folder.mkdir(parents=True, exist_ok=True)
    return RunContext(folder)


def _written(folder: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def test_an_endpoint_teacher_samples_and_its_key_is_never_written(stub: StubServer, prompts_txt: Path,
                                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEN_TEST_KEY", "sk-secret-456")
    out = tmp_path / "out"
    recipe = GenerateRecipe(teacher=stub.url, prompts=str(prompts_txt), max_prompts=2, samples_per_prompt=2,
                            temperature=0.7, top_p=0.9, seed=5, api_key_env="GEN_TEST_KEY", output=str(out))
    run(recipe, RunContext(tmp_path))
    assert [(b["temperature"], b["top_p"], b["seed"]) for b in stub.bodies] == [(0.7, 0.9, s) for s in (5, 6, 7, 8)]
    rows = read_jsonl(out / "rows.jsonl")
    assert [r["answer"] for r in rows] == ["answer to first prompt #5", "answer to first prompt #6",
                                           "answer to second prompt #7", "answer to second prompt #8"]
    assert all(r["kept"] and r["finished"] and r["requests"] == 1 for r in rows)
    assert set(GenStub.seen_keys) == {"Bearer sk-secret-456"}
    assert "sk-secret-456" not in _written(tmp_path) and "GEN_TEST_KEY" in (out / "manifest.json").read_text()


def test_the_request_budget_counts_retries_and_holds_across_resumes(stub: StubServer, prompts_txt: Path,
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "out"
    GenStub.fail_first = 1
    recipe = GenerateRecipe(teacher=stub.url, endpoint_model="stub-model", prompts=str(prompts_txt), retries=2,
                            max_requests=3, output=str(out))
    with pytest.raises(WorkbenchError, match=r"/v1: the request budget of 3 requests is spent"):
        run(recipe, ctx(tmp_path / "r1"))
    rows = read_jsonl(out / "rows.jsonl")
    assert [r["requests"] for r in rows] == [2, 1, 0] and rows[-1]["verdict"] == "error"
    assert len(stub.bodies) == 3 and len(read_jsonl(out / "data.jsonl")) == 2
    with pytest.raises(WorkbenchError, match="request budget of 3 requests is spent"):
        run(recipe, ctx(tmp_path / "r2"))  # a resume with the same budget asks nothing more
    assert len(stub.bodies) == 3
    run(recipe.model_copy(update={"max_requests": 6}), ctx(tmp_path / "r3"))
    assert len(stub.bodies) == 6
    manifest = (out / "manifest.json").read_text()
    assert '"requests": 6' in manifest and '"attempted": 5' in manifest and '"errors": 0' in manifest
    assert [r["id"] for r in read_jsonl(out / "rows.jsonl") if r["kept"]] == [f"p{i}-s0" for i in range(5)]


def test_an_endpoint_that_goes_away_keeps_the_rows_and_names_the_url(stub: StubServer, prompts_txt: Path,
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "out"
    recipe = GenerateRecipe(teacher=stub.url, endpoint_model="stub-model", prompts=str(prompts_txt), max_prompts=2,
                            retries=0, output=str(out))
    run(recipe, ctx(tmp_path / "r1"))
    stub.stop()
    with pytest.raises(WorkbenchError, match=f"3 answers in a row failed.*cannot reach {stub.url}"):
        run(recipe.model_copy(update={"max_prompts": None}), ctx(tmp_path / "r2"))
    rows = read_jsonl(out / "rows.jsonl")
    assert [r["verdict"] for r in rows][:2] == ["kept", "kept"] and len(read_jsonl(out / "data.jsonl")) == 2
    assert all(r["verdict"] == "error" and r["reason"].startswith("cannot reach") for r in rows[2:])
    with pytest.raises(WorkbenchError, match=f"cannot reach {stub.url}"):  # no model name: the listing fails first
        run(recipe.model_copy(update={"endpoint_model": None, "output": str(tmp_path / "other")}),
            ctx(tmp_path / "r3"))
