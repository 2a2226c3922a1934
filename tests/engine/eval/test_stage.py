"""The ``eval`` stage on real targets: the tiny model (PyTorch and its ONNX fp32 variant), an
endpoint (a local stub server speaking the OpenAI streaming protocol), and the CLI's refusals."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from slm_workbench.cli.main import main
from slm_workbench.config.eval import EvalRecipe
from slm_workbench.engine.eval.answerers import LocalAnswerer
from slm_workbench.engine.eval.evaluate import read_rows
from slm_workbench.engine.eval.stage import run
from slm_workbench.engine.runs.context import RunContext
from slm_workbench.engine.runs.run import PREDICTIONS, Run

from .conftest import ROWS
from tests.helpers import write_jsonl


def test_the_stage_scores_the_tiny_model_and_reports(tiny_model_dir: Path, heldout: Path, tmp_path: Path) -> None:
    recipe = EvalRecipe(target=str(tiny_model_dir), data=str(heldout), max_new_tokens=6, bootstrap_samples=100)
    run(recipe, RunContext(tmp_path))
    report = Run(tmp_path).eval_report()
    assert report is not None and report["examples"] == 4 and report["target_kind"] == "transformers"
    assert set(report["metrics"]) == {"task", "exact_match", "token_f1", "rouge_l", "json_valid", "json_fields",
                                      "perplexity"}
    ppl = report["metrics"]["perplexity"]
    assert ppl["low"] <= ppl["mean"] <= ppl["high"] and ppl["mean"] > 1000  # a random model: near-uniform guesses
    rows = read_rows(tmp_path / "artifacts" / PREDICTIONS)
    assert all(r["ref_tokens"] > 0 and r["tokens"] <= 6 for r in rows)


def test_pytorch_and_its_onnx_fp32_variant_answer_alike(tiny_model_dir: Path, tiny_variants: dict[str, Path],
                                                         heldout: Path) -> None:
    torch_answerer = LocalAnswerer("transformers", tiny_model_dir, label="torch")
    onnx_answerer = LocalAnswerer("onnx", tiny_variants["fp32"], label="onnx")
    messages, reference = ROWS[0]["messages"][:-1], ROWS[0]["messages"][-1]["content"]
    assert torch_answerer.reference_ids(messages, reference) == onnx_answerer.reference_ids(messages, reference)
    assert torch_answerer.answer(messages, 8).text == onnx_answerer.answer(messages, 8).text
    nll_t, n_t = torch_answerer.reference_nll(messages, reference)
    nll_o, n_o = onnx_answerer.reference_nll(messages, reference)
    assert n_t == n_o and nll_o == pytest.approx(nll_t, rel=1e-3)


ANSWERS = {"Extract as JSON: Ana Lima, 30, Porto": '{"name": "Ana Lima", "age": 30, "city": "Porto"}',
           "What is 2 + 2?": "2 + 2 = 4."}


class _Stub(BaseHTTPRequestHandler):
    fail_first = 0
    seen_keys: list[str] = []

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass

    def _json(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self._json(200, {"data": [{"id": "stub-model"}]})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen_keys.append(self.headers.get("Authorization", ""))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self._json(503, {"error": {"message": "warming up"}})
            return
        assert body["temperature"] == 0.0 and body["stream"] is True
        text = ANSWERS.get(body["messages"][-1]["content"], "no idea")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for word in text.split(" "):
            chunk = {"choices": [{"delta": {"content": word + " "}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def stub_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_an_endpoint_is_scored_with_retries_and_its_key_never_written(stub_url: str, heldout: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVAL_TEST_KEY", "sk-secret-123")
    _Stub.fail_first, _Stub.seen_keys = 1, []
    recipe = EvalRecipe(target=stub_url, data=str(heldout), api_key_env="EVAL_TEST_KEY", retries=2,
                        bootstrap_samples=100)
    run(recipe, RunContext(tmp_path))
    report = Run(tmp_path).eval_report()
    assert report is not None and report["target_kind"] == "http" and "perplexity" not in report["metrics"]
    assert report["errors"] == 0 and report["passed"] == 2  # the 503 was retried
    assert set(_Stub.seen_keys) == {"Bearer sk-secret-123"}
    written = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    assert "sk-secret-123" not in written


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def test_bad_input_is_one_clear_line_before_any_job(capsys, slmw_home: Path, tiny_model_dir: Path, tmp_path: Path,
                                                    stub_url: str) -> None:
    code, err = _cli(capsys, "eval", str(tiny_model_dir), "--data", "x.jsonl", "--metrics", "bleu")
    assert code != 0 and "bleu" in err and "exact_match" in err and "Traceback" not in err
    plain = write_jsonl(tmp_path / "plain.jsonl", [{"text": "no reference here"}])
    code, err = _cli(capsys, "eval", str(tiny_model_dir), "--data", str(plain))
    assert code != 0 and "plain.jsonl: no example with a reference answer" in err
    code, err = _cli(capsys, "eval", str(tiny_model_dir), "--data", str(tmp_path / "missing.jsonl"))
    assert code != 0 and "no such eval data" in err
    code, err = _cli(capsys, "eval", str(tiny_model_dir))
    assert code != 0 and "not a run, so there is no default eval data" in err
    code, err = _cli(capsys, "eval", stub_url, "--data", str(plain), "--metrics", "perplexity")
    assert code != 0 and "perplexity needs token probabilities" in err
    assert not list(slmw_home.glob("runs/*"))  # no job was started for any of them


def test_compare_two_eval_runs_from_the_cli(capsys, slmw_home: Path) -> None:
    import shutil

    from tests.ui.conftest import write_run

    fixtures = Path(__file__).with_name("fixtures")
    ids = {}
    for k, name in enumerate(("base", "tuned")):
        run_dir = write_run(slmw_home / "runs", f"20260601-10000{k}-eval-{name[:2]}{k}0", "eval", "done", title=name)
        shutil.copytree(fixtures / name / "artifacts", run_dir / "artifacts", dirs_exist_ok=True)
        ids[name] = run_dir.name
    assert main(["eval", "--compare", ids["base"], ids["tuned"]]) == 0
    out = capsys.readouterr().out
    assert "examples in both" in out and "B fixed" in out and "task" in out and "95% [" in out
    assert main(["eval", "--compare", ids["base"], ids["tuned"], "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pairs"] == sum(data["counts"].values()) and len(data["fixed"]) == data["counts"]["fixed"]
    train = write_run(slmw_home / "runs", "20260601-100009-train-aaaa", "train", "done")
    code, err = _cli(capsys, "eval", "--compare", ids["base"], train.name)
    assert code != 0 and "is a train run, not an evaluation" in err
