"""``slmw data generate``: bad input is one clear line before any job; flags map onto the recipe;
an endpoint teacher through the stub server as a real job, then ``--resume``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.cli.main import build_parser, main
from slm_workbench.cli.recipe_flags import build_recipe
from slm_workbench.config.generate import GenerateRecipe
from tests.engine.generate.conftest import stub, StubServer  # noqa: F401 - the stub endpoint fixture

BASE = ["data", "generate", "--teacher", "http://127.0.0.1:9/v1"]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.err


def test_flags_map_onto_the_recipe(tmp_path: Path) -> None:
    args = build_parser().parse_args([*BASE, "--prompts", "p.txt", "-o", "out", "--samples", "3", "--temperature",
                                      "0.7", "--max-new-tokens", "9", "--max-prompts", "4", "--checker",
                                      "slmw:check_extraction", "--valid-json", "--no-drop-truncated"])
    recipe = build_recipe(args, where="test")
    assert recipe == GenerateRecipe(teacher="http://127.0.0.1:9/v1", prompts="p.txt", output="out",
                                    samples_per_prompt=3, temperature=0.7, max_new_tokens=9, max_prompts=4,
                                    filters={"checker": "slmw:check_extraction", "valid_json": True,
                                             "drop_truncated": False})


def test_bad_input_is_one_clear_line_before_any_job(capsys, slmw_home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    prompts = tmp_path / "p.txt"
    prompts.write_text("a prompt\n", encoding="utf-8")
    out = str(tmp_path / "out")
    cases = [
        ([*BASE, "--prompts", str(empty), "-o", out], "empty.txt: no prompts in it"),
        ([*BASE, "--prompts", str(tmp_path / "missing.jsonl"), "-o", out], "no such prompts file or dataset: "),
        ([*BASE, "--prompts", str(prompts), "-o", out, "--checker", "nomodule_zz:f"], "checker 'nomodule_zz:f': cannot import"),
        ([*BASE, "--prompts", str(prompts), "-o", out, "--checker", str(tmp_path / "c.py") + ":f"], "no such file"),
        ([*BASE, "--prompts", str(prompts), "-o", out, "--samples", "2"], "samples_per_prompt 2 with temperature 0"),
        (["data", "generate", "--teacher", str(tmp_path / "no-model"), "--prompts", str(prompts), "-o", out], "no-model"),
    ]
    for argv, message in cases:
        code, err = _cli(capsys, *argv)
        assert code != 0 and message in err and "Traceback" not in err, (argv, err)
        assert len([line for line in err.splitlines() if line.startswith("slmw: error")]) == 1
    assert not list(slmw_home.glob("runs/*"))  # no job was started for any of them


def test_an_output_with_rows_needs_resume_and_the_same_settings(capsys, slmw_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "rows.jsonl").write_text('{"id": "p0-s0", "verdict": "kept"}\n', encoding="utf-8")
    prompts = tmp_path / "p.txt"
    prompts.write_text("a prompt\n", encoding="utf-8")
    code, err = _cli(capsys, *BASE, "--prompts", str(prompts), "-o", str(out))
    assert code != 0 and f"{out} already holds generated rows" in err and "--resume" in err
    manifest = {"teacher": {"spec": "http://127.0.0.1:9/v1"}, "settings": {**GenerateRecipe(
        teacher="x", prompts=str(prompts)).model_dump(mode="json"), "temperature": 0.5}, "prompts": {"sha256": None}}
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    code, err = _cli(capsys, *BASE, "--prompts", str(prompts), "-o", str(out), "--resume")
    assert code != 0 and "other settings (temperature differ)" in err
    assert not list(slmw_home.glob("runs/*"))


def test_an_endpoint_teacher_as_a_job_then_resume(capsys, stub: StubServer, tmp_path: Path) -> None:  # noqa: F811
    prompts = tmp_path / "p.txt"
    prompts.write_text("one\ntwo\nthree\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["data", "generate", "--teacher", stub.url, "--endpoint-model", "stub-model", "--prompts", str(prompts),
            "-o", str(out), "--max-prompts", "2", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["state"] == "done" and result["manifest"]["counts"]["kept"] == 2
    assert main([*argv[:-3], "--resume", "--wait"]) == 0  # all three prompts now: only the third is asked
    assert "3 of 3 answers kept" in capsys.readouterr().out and len(stub.bodies) == 3
