"""Fixtures for TUI tests: deterministic runs on disk, a fixed system sample, a fixed clock zone."""

from __future__ import annotations

import json
import shutil
import socket
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from slm_workbench.engine.events import Artifact, Finished, Progress, Started
from slm_workbench.engine.runs.status import RunStatus
from slm_workbench.engine.system import GpuSample, SystemSample

SNAPSHOT_HOME = Path("/tmp/slmw-snapshot-home")
"""A fixed path: run directories are shown on screen, so snapshots need the same one each time."""

T0 = 1_780_305_300.0  # 2026-06-01 09:15:00 UTC, matching the fabricated run ids


def fixed_sample() -> SystemSample:
    return SystemSample(
        cpu_percent=37.0,
        cpu_count=16,
        ram_used=9_800_000_000,
        ram_total=128_000_000_000,
        gpus=[GpuSample(0, "NVIDIA H200", 83.0, 61_000_000_000, 143_000_000_000, 54.0, 402.0)],
    )


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def write_run(root: Path, run_id: str, stage: str, state: str, *, title: str = "", log: list[str] | None = None,
              events: list | None = None, metrics: list[dict] | None = None, started: float = T0, seconds: float = 42) -> Path:
    run_dir = root / run_id
    (run_dir / "artifacts").mkdir(parents=True)
    (run_dir / "checkpoints").mkdir()
    (run_dir / "recipe.yaml").write_text(f"stage: {stage}\n")
    status = RunStatus(id=run_id, stage=stage, state=state, title=title, pid=None, host=socket.gethostname(),
                       created=started - 1, started=started, ended=started + seconds if state != "running" else None)
    (run_dir / "status.json").write_text(json.dumps(asdict(status)))
    (run_dir / "events.jsonl").write_text("".join(e.to_json() + "\n" for e in (events or [])))
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in (metrics or [])))
    (run_dir / "worker.log").write_text("".join(line + "\n" for line in (log or [])))
    return run_dir


@pytest.fixture
def snapshot_runs(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three finished runs in a fixed SLMW_HOME, as a user would see after a day's work."""
    shutil.rmtree(SNAPSHOT_HOME, ignore_errors=True)
    runs = SNAPSHOT_HOME / "runs"
    monkeypatch.setenv("SLMW_HOME", str(SNAPSHOT_HOME))
    write_run(
        runs, "20260601-091500-models-prepare-a1b2", "models.prepare", "done", title="prepare smollm2-135m-instruct",
        events=[
            Started(stage="models.prepare", pid=4242, host="gpu-box", time=T0),
            Progress(phase="reading and dequantizing the weights", done=2, total=6, unit="steps", time=T0 + 8),
            Progress(phase="done", done=6, total=6, unit="steps", time=T0 + 30),
            Artifact(name="model", path="/data/slmw/models/smollm2-135m-instruct", time=T0 + 30),
            Finished(outcome="done", time=T0 + 30),
        ],
        log=["[models.prepare] checking the GGUF file", "[models.prepare] writing safetensors", "[models.prepare] done"],
        seconds=30,
    )
    write_run(
        runs, "20260601-093000-system-check-c3d4", "system.check", "done", title="system check (cuda)",
        started=T0 + 900,
        events=[
            Started(stage="system.check", pid=4300, host="gpu-box", time=T0 + 900),
            Progress(phase="measuring", done=10, total=10, unit="s", message="612.4 TFLOP/s on NVIDIA H200", time=T0 + 910),
            Finished(outcome="done", time=T0 + 910),
        ],
        metrics=[{"time": T0 + 909, "step": 10, "tflops": 612.4, "elapsed_s": 10.0, "rss_mb": 1840.2, "gpu_mem_mb": 8.4}],
        log=["[system.check] NVIDIA H200, torch.bfloat16, 8192x8192"],
        seconds=10,
    )
    write_run(
        runs, "20260601-094500-system-check-e5f6", "system.check", "cancelled", title="system check (cpu)",
        started=T0 + 1800,
        events=[
            Started(stage="system.check", pid=4400, host="gpu-box", time=T0 + 1800),
            Finished(outcome="cancelled", message="stopped by the user", time=T0 + 1804),
        ],
        log=["[system.check] CPU (16 threads), torch.float32, 1024x1024", "[worker] received SIGTERM: stopping at the next safe point"],
        seconds=4,
    )
    return runs


SMOLLM2_FIGURES = (
    # name, kind, MB, tok/s, ppl, same prefix, agreement, broken reason
    ("torch-fp32", "torch", 538.0, 4.5, 22.24, 64, 1.0, None),
    ("fp32", "onnx", 544.0, 9.4, 22.24, 64, 1.0, None),
    ("int8", "onnx", 270.0, 18.3, 22.45, 41, 0.81, None),
    ("int4", "onnx", 90.0, 39.9, 29.33, 0, 0.22, None),
    ("int4-hq", "onnx", 111.0, 25.4, 22.39, 7, 0.58, None),
    ("int4-olive", "onnx", 197.0, 14.5, 4724.01, 0, 0.02, "perplexity 212x the reference"),
)
"""bench/variants.py's SmolLM2 figures (int4-olive made broken to show how that looks)."""
SMOLLM2_SETTINGS = {"int8": "b32 a4 sym", "int4": "b32 a4 sym", "int4-hq": "hq b32 a4 asym",
                    "int4-olive": "olive b128 a0 sym"}
"""Each variant's settings column, as ``settings_label`` writes it from ``slmw_variant.json``."""
RUNTIME_RSS_MB = {"torch": 310.0, "onnx": 95.0}
"""What a measuring process holds before it loads the model (the model-only RSS is the peak minus this)."""


def task_scores_of(name: str) -> list[float]:
    """64 per-example task scores: the reference right on 56; int8 and int4-hq answer as it does;
    fp32 loses two and gains one (98% on average, its paired interval reaching under 98%); int4 loses ten."""
    scores = [1.0] * 56 + [0.0] * 8
    if name == "fp32":
        scores[0] = scores[1] = 0.0
        scores[60] = 1.0
    if name == "int4":
        scores[:10] = [0.0] * 10
    return scores


def write_compare_run(root: Path, run_id: str = "20260601-100000-compare-a9b8", state: str = "done") -> Path:
    """A finished ``compare`` run of smollm2-135m-instruct with its report.json, as the job writes it."""
    from slm_workbench.engine.compare.report import CompareReport, VariantResult, rank_variants, write_report

    names = [row[0] for row in SMOLLM2_FIGURES]
    metrics = [{"time": T0 + 60 + i, "variant": name, "size_mb": mb, "decode_tok_s": tok, "perplexity": ppl}
               for i, (name, _kind, mb, tok, ppl, *_rest) in enumerate(SMOLLM2_FIGURES)]
    events = [Started(stage="compare", pid=4500, host="gpu-box", time=T0 + 3600)]
    events += [Progress(phase="decoding", done=3, total=3, item=name, item_index=k, item_count=len(names),
                        time=T0 + 3660 + k) for k, name in enumerate(names, 1)]
    events.append(Finished(outcome="done", time=T0 + 3900))
    run_dir = write_run(root, run_id, "compare", state, title="compare smollm2-135m-instruct: balanced",
                        events=events if state == "done" else events[:3], metrics=metrics if state == "done" else metrics[:2],
                        started=T0 + 3600, seconds=300)
    (run_dir / "recipe.yaml").write_text("stage: compare\nmodel: smollm2-135m-instruct\n")
    if state != "done":
        return run_dir
    from slm_workbench.engine.eval.bootstrap import mean_interval

    variants = []
    for name, kind, mb, tok, ppl, prefix, agree, broken in SMOLLM2_FIGURES:
        scores = [] if broken else task_scores_of(name)
        interval = mean_interval(scores) if scores else None
        peak = mb * 1.4 + 120
        variants.append(VariantResult(
            name, f"smollm2-135m-instruct:{name}", kind, f"/data/slmw/variants/smollm2-135m-instruct/{name}",
            "fp32" if "fp32" in name else name[:4], size_mb=mb, load_s=0.4 if kind == "onnx" else 1.9,
            peak_rss_mb=peak, runtime_rss_mb=RUNTIME_RSS_MB[kind], model_rss_mb=round(peak - RUNTIME_RSS_MB[kind], 1),
            ttft_s=round(1 / tok, 3), decode_tok_s=tok, perplexity=ppl,
            agreement={"same_prefix": prefix, "token_agreement": agree, "compared": 64},
            task_score=interval and round(interval.mean, 4), task_low=interval and round(interval.low, 4),
            task_high=interval and round(interval.high, 4), task_n=interval and interval.n, task_scores=scores,
            settings=SMOLLM2_SETTINGS.get(name, "torch fp32" if kind == "torch" else ""),
            broken=broken is not None, broken_reason=broken))
    report = CompareReport(
        source={"spec": "smollm2-135m-instruct", "kind": "model", "name": "smollm2-135m-instruct", "folder": "/data"},
        created="2026-06-01T10:05:00+0000", machine={"threads": 1, "load_avg": [1.0, 1.0, 1.0]},
        settings={"new_tokens": 64, "decode_runs": 3},
        evalset={"name": "held-out prose", "ppl_tokens": 2048, "tasks": 64, "task_source": "slmw:demo-eval"},
        variants=variants, reference="torch-fp32")
    rank_variants(report)
    write_report(report, run_dir / "artifacts")
    return run_dir


def pane_key(pane_id: str) -> str:
    """The number key that shows ``pane_id`` (keys follow the pane order, which grows)."""
    from slm_workbench.ui.screens.workbench import PANES

    return str([p for p, _ in PANES].index(pane_id) + 1)


async def wait_for(pilot, predicate, *, timeout: float = 60.0, what: str = "") -> None:
    """Let the app run (workers, messages, its own timers) until ``predicate()`` holds."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.02)


async def press(pilot, selector: str) -> None:
    """Click a button once it can be pressed again (a Button ignores a click while its press shows)."""
    button = pilot.app.screen.query_one(selector)
    await wait_for(pilot, lambda: not button.has_class("-active"), what=f"{selector} to be pressable")
    await pilot.click(selector)


def write_chat_rows(path, rows: int):
    """A tiny chat dataset: ``rows`` one-turn conversations, one per line."""
    path.write_text("".join(
        '{"messages": [{"role": "user", "content": "hi %d"}, {"role": "assistant", "content": "hello %d"}]}\n' % (i, i)
        for i in range(rows)))
    return path
