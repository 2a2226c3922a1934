"""Time to first frame of the workbench TUI against a bare Textual app, in a real terminal.

Each app is started in a pseudo-terminal (120x40, TERM=xterm-256color) exactly as a user
starts it (``slmw`` through the CLI entry point); the clock stops when the app's first
frame is on the terminal (its marker text appears in the output, escape codes stripped).
Runs are interleaved and the medians compared; the load average is printed before and
after (a ratio taken under load is not the quiet machine's).

    .venv/bin/python bench/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78DEHMc]")


def first_frame_seconds(argv: list[str], marker: bytes, env: dict[str, str], timeout: float = 30.0) -> float:
    pid, fd = pty.fork()
    if pid == 0:  # child: the app, on the pty
        os.execve(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    start = time.perf_counter()
    seen = b""
    try:
        while True:
            remaining = timeout - (time.perf_counter() - start)
            if remaining <= 0:
                raise TimeoutError(f"no first frame from {argv} within {timeout}s")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                raise RuntimeError(f"{argv} exited before its first frame: {ANSI.sub(b'', seen)[-400:]!r}") from None
            seen += chunk
            if marker in ANSI.sub(b"", seen).replace(b"\r", b"").replace(b"\n", b""):
                return time.perf_counter() - start
    finally:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        _drain(fd)
        os.waitpid(pid, 0)
        os.close(fd)


def _drain(fd: int) -> None:
    end = time.time() + 2
    while time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


def _load(load: tuple[float, float, float]) -> str:
    return "/".join(f"{value:.2f}" for value in load)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40")
    env["SLMW_HOME"] = tempfile.mkdtemp(prefix="slmw-bench-home-")
    # As an installed package runs: from bytecode (the warm-up run writes it). With
    # PYTHONDONTWRITEBYTECODE set, every start would compile the workbench's modules from
    # source while Textual's come precompiled from site-packages.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    python = sys.executable
    load_before = os.getloadavg()
    tui = ([python, "-m", "slm_workbench"], b"Elapsed")  # the run table's header: the Runs pane is drawn
    bare = ([python, str(HERE / "_bare_app.py")], b"bare app ready")
    for argv, marker in (tui, bare):  # warm the file cache once; not counted
        first_frame_seconds(argv, marker, env)
    times: dict[str, list[float]] = {"tui": [], "bare": []}
    for _ in range(args.runs):
        times["tui"].append(first_frame_seconds(*tui, env))
        times["bare"].append(first_frame_seconds(*bare, env))
    tui_median = statistics.median(times["tui"])
    bare_median = statistics.median(times["bare"])
    print(f"first frame, median of {args.runs} interleaved runs in a 120x40 pty:")
    print(f"  bare Textual app : {bare_median * 1000:7.0f} ms  (all: {', '.join(f'{t * 1000:.0f}' for t in times['bare'])})")
    print(f"  slmw (workbench) : {tui_median * 1000:7.0f} ms  (all: {', '.join(f'{t * 1000:.0f}' for t in times['tui'])})")
    print(f"  ratio slmw/bare  : {tui_median / bare_median:.2f}x  (goal <= 1.10x)")
    print(f"  load average     : {_load(load_before)} before, {_load(os.getloadavg())} after  ({os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
