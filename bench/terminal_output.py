"""Bytes per second the TUI writes to the terminal while the Runs pane monitors a running job,
against a bare Textual app with one plotext chart redrawn at 1 Hz (bench/_chart_app.py).

The job is a stand-in for a training run that writes what the trainer's callbacks write, at
one logged step a second: a metrics row (loss, lr, grad norm, tokens/s, ETA, RSS), a progress
event and a worker.log line; it costs no CPU, so the figure is the TUI's alone. Each app runs
in a 120x40 pseudo-terminal (TERM=xterm-256color) as a user starts it; after a warm-up (the
run selected, the chart drawn) every byte the app writes is counted for ``--seconds``.

    .venv/bin/python bench/terminal_output.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import select
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
GOAL_BYTES_S = 10_000


def fake_job(run_dir: Path, step_seconds: float) -> None:
    """Be a running training job in ``run_dir``: status, then one logged step per ``step_seconds``."""
    from dataclasses import replace

    import psutil

    from slm_workbench.engine.events import Progress, Started
    from slm_workbench.engine.runs.status import read_status, write_status

    status = read_status(run_dir / "status.json")
    now = time.time()
    me = os.getpid()
    write_status(run_dir / "status.json", replace(status, state="running", pid=me, pgid=me, host=socket.gethostname(),
                                                  proc_start=psutil.Process(me).create_time(), started=now, launched=now))
    rng = random.Random(0)
    total = 100_000
    with open(run_dir / "events.jsonl", "a") as events, open(run_dir / "metrics.jsonl", "a") as metrics, \
            open(run_dir / "worker.log", "a") as log:
        events.write(Started(stage="train", pid=me, host=socket.gethostname()).to_json() + "\n")
        for step in range(1, total + 1):
            loss = 2.5 * math.exp(-step / 120) + 0.3 + rng.random() * 0.2
            row = {"time": time.time(), "step": step, "epoch": round(step / 500, 4), "loss": loss,
                   "learning_rate": 2e-4 * (1 - step / total), "grad_norm": 1 + rng.random(), "tokens_per_s": 900 + rng.random() * 50,
                   "tokens_seen": step * 512, "elapsed_s": step * step_seconds, "eta_s": (total - step) * step_seconds,
                   "rss_mb": 1800 + rng.random() * 5}
            metrics.write(json.dumps(row) + "\n")
            events.write(Progress(phase="training", done=step, total=total, unit="steps",
                                  message=f"loss {loss:.4f}, {row['tokens_per_s']:.0f} tok/s").to_json() + "\n")
            log.write(json.dumps({"loss": round(loss, 4), "grad_norm": row["grad_norm"], "epoch": row["epoch"]}) + "\n")
            for fh in (metrics, events, log):
                fh.flush()
            time.sleep(step_seconds)


def bytes_per_second(argv: list[str], marker: bytes, env: dict[str, str], warmup: float, seconds: float) -> float:
    import fcntl
    import pty
    import struct
    import termios

    from startup import ANSI, _drain  # bench/startup.py: the same pty handling

    pid, fd = pty.fork()
    if pid == 0:
        os.execve(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    try:
        seen = b""
        deadline = time.monotonic() + 60
        while marker not in ANSI.sub(b"", seen).replace(b"\r", b"").replace(b"\n", b""):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{argv} showed no {marker!r}: {ANSI.sub(b'', seen)[-300:]!r}")
            seen += _read(fd, deadline - time.monotonic())
        end = time.monotonic() + warmup
        while time.monotonic() < end:
            _read(fd, end - time.monotonic())
        count, start = 0, time.monotonic()
        end = start + seconds
        while time.monotonic() < end:
            count += len(_read(fd, end - time.monotonic()))
        return count / (time.monotonic() - start)
    finally:
        os.kill(pid, signal.SIGTERM)
        _drain(fd)
        os.waitpid(pid, 0)
        os.close(fd)


def _read(fd: int, timeout: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
    if not ready:
        return b""
    try:
        return os.read(fd, 1 << 16)
    except OSError:
        raise RuntimeError("the app exited") from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--step-seconds", type=float, default=1.0, help="the stand-in job's time per logged step")
    parser.add_argument("--fake-job", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake_job:
        fake_job(args.fake_job, args.step_seconds)
        return 0
    import subprocess

    from slm_workbench.engine.runs.store import RunStore

    home = tempfile.mkdtemp(prefix="slmw-bench-output-")
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40", SLMW_HOME=home)
    run_dir = RunStore(Path(home) / "runs").create("train", "stage: train\n", title="bench training run")
    job = subprocess.Popen([sys.executable, __file__, "--fake-job", str(run_dir), "--step-seconds", str(args.step_seconds)],
                           env=env)
    try:
        time.sleep(1.0)
        print(f"terminal output at 120x40 over {args.seconds:.0f} s ({args.warmup:.0f} s warm-up); "
              f"uptime: {os.popen('uptime').read().strip()}", flush=True)
        base = bytes_per_second([sys.executable, str(HERE / "_chart_app.py")], b"chart app ready", env, args.warmup,
                                args.seconds)
        print(f"  bare Textual app, one plotext chart at 1 Hz : {base / 1000:6.2f} KB/s  (baseline)", flush=True)
        ours = bytes_per_second([sys.executable, "-m", "slm_workbench"], b"Elapsed", env, args.warmup, args.seconds)
        print(f"  slmw, Runs pane monitoring a training run   : {ours / 1000:6.2f} KB/s  "
              f"(goal <= {GOAL_BYTES_S / 1000:.0f} KB/s; ratio to baseline {ours / base:.2f})", flush=True)
    finally:
        job.terminate()
        job.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
