"""Keypress-to-screen latency of the Chat pane while a model streams (used by bench/chat.py).

The real ``slmw`` runs in a pseudo-terminal. The bench opens the Chat pane, loads the model,
sends a prompt that makes it write at length, and then types ``¤`` into the prompt every
~100 ms while tokens stream in; a sample is the time from writing the key to the pty until
a ``¤`` appears in what the app writes back (the prompt line redrawn). When an answer ends,
the prompt is cleared and another one sent, until enough samples are taken.
"""

from __future__ import annotations

import fcntl
import os
import pty
import random
import select
import signal
import statistics
import struct
import sys
import termios
import time

import psutil
from startup import ANSI, _drain

from slm_workbench.ui.screens.workbench import PANES

KEY = "¤"
PROMPTS = ("Write a long story about a dragon who learns to bake bread.", "Explain in detail how a steam engine works.",
           "List one hundred ideas for a garden, with a sentence about each.")


class Terminal:
    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(argv[0], argv, env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.screen = ""  # everything written since the last ``mark``, escape codes stripped

    def read(self, timeout: float) -> str:
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return ""
        try:
            chunk = os.read(self.fd, 1 << 16)
        except OSError:
            raise RuntimeError(f"slmw exited: {self.screen[-500:]!r}") from None
        text = ANSI.sub(b"", chunk).decode("utf-8", "replace")
        self.screen += text
        return text

    def wait_for(self, marker: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.screen.replace("\r", "").replace("\n", ""):
            if time.monotonic() > deadline:
                with open("/tmp/slmw-bench-screen.txt", "w") as fh:
                    fh.write(self.screen)
                raise TimeoutError(f"{marker!r} not on screen within {timeout}s; last: {self.screen[-300:]!r}")
            self.read(deadline - time.monotonic())

    def mark(self) -> None:
        self.screen = ""

    def write(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        _drain(self.fd)
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def pause(term: Terminal, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # keep draining what the app writes
        term.read(end - time.monotonic())


def send_prompt(term: Terminal, prompt: str) -> None:
    term.write("\x15")  # ctrl+u: clear the prompt line (typed as a person would: keys, then enter)
    pause(term, 0.2)
    term.mark()
    term.write(prompt)
    term.wait_for(prompt, 10)
    term.mark()
    term.write("\r")
    term.wait_for("assistant:", 120)


def latency(name: str, spec: str, keys: int) -> list[float]:
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40")
    term = Terminal([sys.executable, "-m", "slm_workbench"], env)
    samples: list[float] = []
    try:
        term.wait_for("Elapsed", 60)  # the Runs pane is drawn
        term.write(str([pane for pane, _ in PANES].index("chat") + 1))
        term.wait_for("MODEL:VARIANT", 30)
        term.write(spec + "\r")
        term.wait_for("ready ·", 180)
        pause(term, 1.0)  # the prompt takes the focus once loading is done
        idle = [type_key(term) for _ in range(max(5, keys // 2))]  # the baseline: no model running
        term.write("\x15")
        prompts = iter(PROMPTS * 10)
        send_prompt(term, next(prompts))
        tui = psutil.Process(term.pid)
        tui.cpu_percent()
        while len(samples) < keys:
            term.mark()
            pause(term, 0.02)
            if "tok/s" in term.screen:  # the answer ended: ask for another
                send_prompt(term, next(prompts))
                continue
            samples.append(type_key(term))
        cpu = tui.cpu_percent()
    finally:
        term.close()
    report(f"{name} streaming", samples, f" (goal p95 <= 50 ms; the TUI process used {cpu:.0f}% of a core; "
                                         f"load average {os.getloadavg()[0]:.2f})")
    report("  same, idle", idle, " (baseline: the same TUI, no model running)")
    return samples


def type_key(term: Terminal) -> float:
    """Seconds from writing one key to the pty until its character is in the app's output."""
    pause(term, random.uniform(0.05, 0.15))
    term.mark()
    start = time.perf_counter()
    term.write(KEY)
    while KEY not in term.screen:
        if time.perf_counter() - start > 5:
            raise TimeoutError("a keypress did not reach the screen within 5 s")
        term.read(5)
    return time.perf_counter() - start


def report(name: str, samples: list[float], note: str) -> None:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    print(f"  {name:24} median {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   max {ms[-1]:6.1f} ms  "
          f"({len(ms)} keys){note}", flush=True)
