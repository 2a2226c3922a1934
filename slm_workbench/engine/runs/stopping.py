"""Stopping a job in every phase, within a few seconds, always as ``cancelled``.

A Python signal handler runs only when the main thread is back in the interpreter: a stage
busy inside one long library call (loading weights, a tokenizer's Rust loop, waiting on a
child process) would see a stop only when that call returns, minutes later. So the worker
also listens on the signal wakeup fd (written by the C-level handler the moment a signal
arrives) in a watchdog thread, which:

1. sets the stop flag at once (stages see it at their next ``ctx.check_cancelled()``);
2. if the stage has not reached a safe point ``grace_s`` seconds later, raises ``Cancelled``
   in the main thread (its ``finally`` blocks clean up) and kills the processes the job
   started;
3. if even that does not end the stage (it sits in C code), records ``finished(cancelled)``
   itself and ends the process.

A stage in an orderly exit (training saving its stop checkpoint) says so with
``acknowledge()``; a section that needs longer to reach its safe point sets ``grace(…)``
(training: a few step durations). A second stop does not wait: the job ends at once.

The guard is per process, because signals are: stages reach it through the module
functions, which do nothing when no guard is installed (a stage called in a test).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator

from ..errors import Cancelled

STOP_GRACE_S = float(os.environ.get("SLMW_STOP_GRACE_S", "5"))
"""How long a stopped stage may take to reach its next ``check_cancelled()`` before it is made to stop."""
HARD_GRACE_S = 2.0
"""After ``Cancelled`` is raised in the main thread: how long before the process ends itself."""
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_early: list[int] = []
_guard: StopGuard | None = None


def install_early() -> None:
    """First thing in the worker, before its imports: a stop arriving now is remembered, not fatal."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda signum, _frame: _early.append(signum))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


class StopGuard:
    def __init__(self, cancel_requested: threading.Event, *, on_forced: Callable[[], None] = lambda: None,
                 rank_child: bool = False, log: Callable[[str], None] = print) -> None:
        self.cancel_requested = cancel_requested
        self.rank_child = rank_child
        self.grace_s: float | None = STOP_GRACE_S
        self.requested_at: float | None = None
        self.urgent_at: float | None = None
        self.acknowledged = False
        self._on_forced = on_forced
        self._log = log
        self._claim = threading.Lock()
        self._claimed = False
        self._async_sent = False
        self._handler_calls = 0
        self._main = threading.main_thread().ident
        self._wake_fd: int | None = None

    def install(self) -> None:
        """Handlers, wakeup fd and watchdog; replays a stop that came before (``install_early``)."""
        global _guard
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handler)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        self._wake_fd = write_fd
        _guard = self
        threading.Thread(target=self._watch, args=(read_fd,), name="slmw-stop-watchdog", daemon=True).start()
        for signum in _early:
            self.request(signum)
        _early.clear()

    def _handler(self, signum: int, _frame: object) -> None:
        # Runs in the main thread when it gets there; the watchdog has usually seen the signal first.
        # A rank under torchrun gets SIGTERM twice (the group's, then torchrun's own): both mean
        # "save at the next step and leave"; only a second SIGINT stops it at once.
        self._handler_calls += 1
        self.cancel_requested.set()
        if self._claimed:
            return  # the outcome is being written: nothing left to stop
        if self._handler_calls > 1 and not (self.rank_child and signum == signal.SIGTERM):
            raise Cancelled()

    def request(self, signum: int = signal.SIGTERM) -> None:
        """A stop arrived (from the wakeup fd, an early signal, or status.json's ``stop_requested``)."""
        now = time.monotonic()
        self.cancel_requested.set()
        if self.requested_at is None:
            self.requested_at = now
            self._log(f"[worker] received {signal.Signals(signum).name}: stopping at the next safe point")
        elif not (self.rank_child and signum == signal.SIGTERM) and self.urgent_at is None:
            self.urgent_at = now
            self._log("[worker] asked to stop again: stopping now")
        if self._wake_fd is not None and threading.get_ident() == self._main:
            with contextlib.suppress(OSError):
                os.write(self._wake_fd, b"\0")  # the watchdog may be waiting with no deadline

    def claim_finish(self) -> bool:
        """Whoever records the outcome first (the main thread, or the watchdog) is the only one to."""
        with self._claim:
            if self._claimed:
                return False
            self._claimed = True
            if self._async_sent and threading.get_ident() == self._main:
                _async_raise(self._main, None)  # a Cancelled still pending would hit the bookkeeping
            return True

    def deadline(self) -> float | None:
        if self.urgent_at is not None:
            return self.urgent_at + 1.0
        if self.requested_at is None or self.acknowledged or self.grace_s is None:
            return None
        return self.requested_at + self.grace_s

    def _watch(self, fd: int) -> None:
        raised_at: float | None = None
        while True:
            timeout = None if self.requested_at is None else 0.1
            ready, _, _ = select.select([fd], [], [], timeout)
            if ready:
                for signum in os.read(fd, 64):
                    if signum in STOP_SIGNALS:
                        self.request(signum)
            deadline = self.deadline()
            now = time.monotonic()
            if raised_at is None and deadline is not None and now >= deadline:
                raised_at = now
                self._log(f"[worker] the stage did not stop within {now - (self.requested_at or now):.1f} s: "
                          "stopping it")
                kill_children()
                with self._claim:
                    if not self._claimed:
                        self._async_sent = True
                        _async_raise(self._main, Cancelled)
            if raised_at is not None and now >= raised_at + HARD_GRACE_S and self.claim_finish():
                kill_children()
                self._log("[worker] the stage is stuck in a library call: ending the process")
                try:
                    self._on_forced()
                finally:
                    os._exit(130)


def _async_raise(thread_id: int | None, exc: type[BaseException] | None) -> None:
    """Raise ``exc`` in that thread at its next bytecode (``None`` clears a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id or 0),
                                               ctypes.py_object(exc) if exc is not None else None)


def kill_children() -> None:
    """SIGKILL every process this job started (torchrun ranks, exporters in their own session)."""
    import psutil

    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()


def acknowledge() -> None:
    """The stage has seen the stop and is leaving in order (e.g. saving a checkpoint): let it finish."""
    if _guard is not None:
        _guard.acknowledged = True


def set_grace(seconds: float | None) -> None:
    """How long the stage may take to reach its next safe point from now on (None: as long as it takes)."""
    if _guard is not None:
        _guard.grace_s = seconds


@contextlib.contextmanager
def grace(seconds: float | None) -> Iterator[None]:
    """A section whose safe points are further apart than ``STOP_GRACE_S``."""
    before = _guard.grace_s if _guard is not None else STOP_GRACE_S
    set_grace(seconds)
    try:
        yield
    finally:
        set_grace(before)
