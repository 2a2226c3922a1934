"""``slmw`` in-process (``main([...])`` with capsys) and once as the installed script."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from slm_workbench.cli.main import main
from slm_workbench.engine.models.builtin import DEFAULT_MODEL
from slm_workbench.engine.runs import store

SLMW = Path(sys.executable).with_name("slmw")


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("slmw: error:")]


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> tuple[Path, int, str]:
    """A home holding one finished ``slmw system check`` (2 s, one thread): (home, exit code, stdout)."""
    home = tmp_path_factory.mktemp("cli-home")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setenv("SLMW_HOME", str(home))
        code = main(["system", "check", "--seconds", "2", "--threads", "1", "--size", "64"])
    return home, code, out.getvalue()


@pytest.fixture
def checked_home(checked, monkeypatch) -> Path:
    monkeypatch.setenv("SLMW_HOME", str(checked[0]))
    return checked[0]


def the_run(home: Path) -> Path:
    [run_dir] = [d for d in (home / "runs").iterdir() if not d.name.startswith(".")]
    return run_dir


def test_unknown_model_is_one_error_line_and_starts_no_job(capsys, slmw_home):
    code, out, err = run_cli(capsys, "models", "prepare", "gpt-17-ultra")
    assert code == 1 and out == ""
    [line] = error_lines(err)
    assert "gpt-17-ultra" in line
    assert "Traceback" not in err
    assert not (slmw_home / "runs").exists() or not any((slmw_home / "runs").iterdir())


def test_installed_script_reports_an_unknown_model_without_traceback(slmw_home):
    proc = subprocess.run([str(SLMW), "models", "prepare", "gpt-17-ultra"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ""
    [line] = error_lines(proc.stderr)
    assert line == "slmw: error: unknown model 'gpt-17-ultra'"
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 2  # the error and a hint
    assert not (slmw_home / "runs").exists()


def test_runs_show_unknown_id(capsys):
    code, out, err = run_cli(capsys, "runs", "show", "nope")
    assert code == 1
    [line] = error_lines(err)
    assert "'nope'" in line


def test_runs_list_empty(capsys):
    assert run_cli(capsys, "runs", "list", "--json")[:2] == (0, "[]\n")
    code, out, _ = run_cli(capsys, "runs", "list")
    assert code == 0 and "no runs yet" in out


def test_models_list(capsys, slmw_home):
    code, out, _ = run_cli(capsys, "models", "list")
    assert code == 0
    header, row, gemma = out.splitlines()
    assert header.split()[:3] == ["NAME", "KIND", "PREPARED"]
    assert row.split()[:3] == [DEFAULT_MODEL, "builtin", "no"]
    assert gemma.split()[:3] == ["gemma-3-270m", "builtin", "no"]
    code, out, _ = run_cli(capsys, "models", "list", "--json")
    model, gemma_info = json.loads(out)
    assert (model["name"], model["prepared"], model["folder"]) == (DEFAULT_MODEL, False, str(slmw_home / "models" / DEFAULT_MODEL))
    assert (gemma_info["upstream"], gemma_info["license"]) == ("google/gemma-3-270m", "Gemma Terms of Use (https://ai.google.dev/gemma/terms)")


def test_system_check_follows_the_job_to_done(checked):
    _home, code, out = checked
    assert code == 0, out
    assert "started system.check" in out and "finished: done" in out
    assert out.rstrip().splitlines()[-1].endswith(": done")


def test_runs_list_shows_the_check_done(capsys, checked_home):
    run_dir = the_run(checked_home)
    code, out, _ = run_cli(capsys, "runs", "list")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith(run_dir.name))
    assert row.split()[1:3] == ["done", "system.check"]
    code, out, _ = run_cli(capsys, "runs", "list", "--json")
    [run] = json.loads(out)
    assert (run["id"], run["state"], run["stage"], run["problem"]) == (run_dir.name, "done", "system.check", None)
    assert run["status"]["state"] == "done" and run["status"]["ended"] >= run["status"]["started"]


def test_runs_show_and_logs(capsys, checked_home):
    run_id = the_run(checked_home).name
    code, out, _ = run_cli(capsys, "runs", "show", run_id[-4:])  # a unique suffix is enough
    assert code == 0
    assert f"run      {run_id}" in out and "state    done" in out and "finished: done" in out
    code, out, _ = run_cli(capsys, "runs", "show", run_id, "--json")
    shown = json.loads(out)
    assert [e["kind"] for e in shown["events"]][0] == "started" and shown["events"][-1]["outcome"] == "done"

    code, out, _ = run_cli(capsys, "runs", "logs", run_id)
    assert code == 0 and "[system.check] CPU (1 threads)" in out
    code, out, _ = run_cli(capsys, "runs", "logs", run_id, "-f")
    assert code == 0 and out.rstrip().endswith(f"run {run_id}: done")


def test_runs_stop_on_a_finished_run_is_a_clear_error(capsys, checked_home):
    run_id = the_run(checked_home).name
    code, out, err = run_cli(capsys, "runs", "stop", run_id)
    assert code == 1 and out == ""
    assert error_lines(err) == [f"slmw: error: run {run_id} is not running (state: done)"]


def test_runs_list_shows_a_corrupt_run_and_goes_on(capsys, slmw_home):
    good = store.RunStore().create("system.check", "stage: system.check\n")
    bad = slmw_home / "runs" / "20000101-000000-broken"
    bad.mkdir()
    (bad / store.STATUS).write_text("{ half a file")
    code, out, err = run_cli(capsys, "runs", "list")
    assert code == 0 and err == ""
    row = next(line for line in out.splitlines() if line.startswith(bad.name))
    assert "corrupt" in row and str(bad / store.STATUS) in row
    assert good.name in out


def test_runs_rm(capsys, slmw_home):
    run_dir = store.RunStore().create("system.check", "stage: system.check\n")
    store.update_status(run_dir, state="done")
    code, out, _ = run_cli(capsys, "runs", "rm", run_dir.name)
    assert (code, out) == (0, f"removed {run_dir.name}\n")
    assert not run_dir.exists()


def test_run_with_a_bad_override_names_the_field_and_starts_nothing(capsys, slmw_home, tmp_path):
    recipe = tmp_path / "check.yaml"
    recipe.write_text("# slmw run check.yaml\nstage: system.check\nseconds: 2\n")
    code, _, err = run_cli(capsys, "run", str(recipe), "--set", "seconds=-1")
    assert code == 1
    assert error_lines(err) == [f"slmw: error: {recipe}: seconds: Input should be greater than 0"]
    assert not (slmw_home / "runs").exists()


def test_unwritable_home_is_one_error_line(capsys, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("SLMW_HOME", str(blocker / "home"))
    code, _, err = run_cli(capsys, "system", "check", "--seconds", "1")
    assert code == 1
    [line] = error_lines(err)
    assert str(blocker / "home" / "runs") in line and "Traceback" not in err


@pytest.mark.e2e
def test_models_info_json_of_the_prepared_builtin(capsys, prepared_home):
    code, out, _ = run_cli(capsys, "models", "info", DEFAULT_MODEL, "--json")
    assert code == 0
    info = json.loads(out)
    assert info["prepared"] is True and info["chat_template"] == "own"
    assert info["parameters"] == pytest.approx(134.5e6, rel=0.005)
    assert (info["architecture"], info["layers"], info["vocab_size"]) == ("LlamaForCausalLM", 30, 49152)
