"""``slmw export`` / ``slmw compare``: the recipe each command builds, errors, and real jobs on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.cli import jobs
from slm_workbench.cli.main import main
from slm_workbench.config.export import CompareRecipe, ExportRecipe
from tests.export_fixtures import link_variants

REPORT_KEYS = {"name", "perplexity", "decode_tok_s", "ttft_s", "size_mb", "peak_rss_mb", "load_s", "agreement", "broken"}


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def started(monkeypatch, tmp_path):
    """Patch the launcher: record the recipe instead of starting a job."""
    recipes = []

    def fake_start(recipe, title="", force=False):
        recipes.append((recipe, title))
        run = tmp_path / "runs" / "fake-run"
        (run / "artifacts").mkdir(parents=True, exist_ok=True)
        return run

    monkeypatch.setattr(jobs, "start_recipe", fake_start)
    monkeypatch.setattr(jobs, "RunStore", lambda root: type("S", (), {"info": lambda self, d: type("I", (), {"state": "queued"})()})())
    return recipes


def test_export_builds_the_recipe_from_flags(capsys, started, tiny_model_dir):
    code, out, _ = run_cli(capsys, "export", str(tiny_model_dir), "--variants", "fp32,int4,int4-hq",
                           "--block-size", "64", "--accuracy-level", "1", "--no-symmetric", "--calibration-samples", "8",
                           "--calibration-data", "slmw:demo", "--detach")
    assert code == 0 and out.strip() == "fake-run"
    (recipe, title), = started
    assert recipe == ExportRecipe(model=str(tiny_model_dir), variants=["fp32", "int4", "int4-hq"], block_size=64,
                                  accuracy_level=1, symmetric=False, calibration_samples=8, calibration_data="slmw:demo")
    assert title.startswith(f"export {tiny_model_dir.name}")


def test_compare_builds_the_recipe_from_flags(capsys, started, tiny_model_dir, tmp_path):
    code, out, _ = run_cli(capsys, "compare", str(tiny_model_dir), "--eval", str(tmp_path), "--threads", "2",
                           "--runs", "5", "--rounds", "2", "--ppl-tokens", "512", "--no-reference", "--symmetric",
                           "--calibration-samples", "4", "--detach", "--json")
    assert code == 0 and json.loads(out)["id"] == "fake-run"
    (recipe, _), = started
    assert recipe == CompareRecipe(model=str(tiny_model_dir), eval=str(tmp_path), threads=2, decode_runs=5, rounds=2,
                                   perplexity_tokens=512, reference=False, symmetric=True, calibration_samples=4)


def test_model_colon_variant_names_one_variant(capsys, started, tiny_model_dir):
    code, _, _ = run_cli(capsys, "compare", f"{tiny_model_dir}:int4-hq", "--detach")
    assert code == 0
    (recipe, _), = started
    assert (recipe.model, recipe.variants) == (str(tiny_model_dir), ["int4-hq"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "no-such-model"], "no model or run named 'no-such-model'"),
        (["export", "TINY", "--variants", "int4,int3"], "variants: Value error, unknown variant(s) int3"),
        (["export", "TINY", "--block-size", "48"], "block_size: Value error, block_size must be one of"),
        (["compare", "TINY", "--variants", "Not A Name"], "not a variant name"),
    ],
)
def test_errors_are_one_line(capsys, started, tiny_model_dir, args, message):
    args = [str(tiny_model_dir) if a == "TINY" else a for a in args]
    code, _, err = run_cli(capsys, *args)
    assert code == 1 and message in err and "Traceback" not in err
    assert started == []


def test_compare_job_json_report(capsys, slmw_home, tiny_model_dir, tiny_variants):
    link_variants(slmw_home, tiny_model_dir.name, {"int4": tiny_variants["int4"]})
    code, out, err = run_cli(capsys, "compare", str(tiny_model_dir), "--ppl-tokens", "64", "--new-tokens", "8",
                             "--runs", "1", "--json")
    assert code == 0, err
    report = json.loads(out)
    names = [v["name"] for v in report["variants"]]
    assert names == ["torch-fp32", "int4"] and any("torch" in n for n in names)
    for v in report["variants"]:
        assert REPORT_KEYS <= set(v) and v["perplexity"] > 1 and v["broken"] is False
    run_dir = slmw_home / "runs" / report["run"]
    assert {"report.json", "report.md", "report.csv"} <= {p.name for p in (run_dir / "artifacts").iterdir()}
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["variant"] for m in metrics] == names and all("decode_tok_s" in m for m in metrics)


def test_export_job_builds_int4_hq_from_the_fp32_variant(capsys, slmw_home, tiny_model_dir, tiny_variants):
    link_variants(slmw_home, tiny_model_dir.name, {"fp32": tiny_variants["fp32"]})
    code, out, err = run_cli(capsys, "export", str(tiny_model_dir), "--variants", "fp32,int4-hq", "--json")
    assert code == 0, err
    data = json.loads(out)
    fp32, hq = data["variants"]
    assert fp32["reused"] and not hq["reused"] and hq["verified"]
    folder = Path(hq["folder"])
    assert folder == slmw_home / "variants" / tiny_model_dir.name / "int4-hq" and (folder / "genai_config.json").is_file()
    assert not (slmw_home / "runs" / data["run"] / "work" / "builder-cache").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "TINY", "--variants", "int4-cal", "--calibration-data", "MISSING"], "no such file or folder"),
        (["export", "TINY", "--variants", "int4-cal", "--calibration-data", "EMPTY"], "is empty"),
        (["compare", "TINY", "--variants", "int4-hq-cal", "--eval", "FEW", "--calibration-data", "FEW"],
         "is the eval split the comparison scores"),
        (["export", "TINY", "--variants", "int4-cal", "--calibration-data", "FEW", "--calibration-samples", "4"],
         "--calibration-samples 4 asks for more"),
        (["export", "TINY", "--variants", "int4-cal", "--block-size", "128"], "block size 128 does not divide"),
        (["export", "TINY", "--accuracy-level", "7"], "accuracy_level"),
    ],
)
def test_bad_calibration_and_block_settings_are_refused_before_any_build(capsys, monkeypatch, slmw_home,
                                                                        tiny_model_dir, tmp_path, args, message):
    from slm_workbench.engine.runs import launcher

    monkeypatch.setattr(launcher, "launch", lambda run_dir: pytest.fail("a job was started"))
    few = tmp_path / "few.jsonl"
    few.write_text(json.dumps({"prompt": "Two plus two?", "completion": "Four."}) + "\n")
    (tmp_path / "empty.jsonl").write_text("")
    paths = {"TINY": str(tiny_model_dir), "MISSING": str(tmp_path / "missing.jsonl"), "FEW": str(few),
             "EMPTY": str(tmp_path / "empty.jsonl")}
    code, _, err = run_cli(capsys, *[paths.get(a, a) for a in args])
    assert code == 1 and message in err and "Traceback" not in err, err
    assert not list((slmw_home / "runs").glob("*")) if (slmw_home / "runs").exists() else True
    assert not list(slmw_home.rglob(".*.partial-*"))
