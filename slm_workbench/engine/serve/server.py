"""Run the ASGI app on uvicorn, on a socket bound here first.

Binding the socket before uvicorn starts turns a port in use into one clear line
(``bind``), gives the real port when 0 was asked for, and lets a caller (the tests, the
benchmark) learn the URL before the first request. ``Server.run`` serves until ``stop`` is
set: uvicorn's own signal handling is off, so the caller decides what stops it (Ctrl-C in
the foreground, the job's stop in a ``serve`` run). Open streams get a short grace, then
their generations are stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

from ..errors import WorkbenchError
from .app import ServerState, make_app

SHUTDOWN_GRACE_S = 2.0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; a port in use (or an address not here) is one line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise WorkbenchError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                             hint="pick another --port, or 0 for any free one") from None
    sock.set_inheritable(True)
    return sock


def require_port_free(host: str, port: int) -> None:
    """Fail in one line, before any model is prepared or loaded and before a job starts, when ``host:port``
    cannot be listened on (port 0, any free port, always can). The server binds again for real."""
    if port != 0:
        bind(host, port).close()


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/v1"


class Server:
    def __init__(self, state: ServerState, sock: socket.socket) -> None:
        import uvicorn

        self.state = state
        self.sock = sock
        self.url = url_of(sock)
        self.stop = threading.Event()
        config = uvicorn.Config(make_app(state), log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
        stop = self.stop
        self._should_stop: Callable[[], bool] = lambda: False
        should_stop = lambda: self._should_stop()  # noqa: E731

        class _Uvicorn(uvicorn.Server):
            """uvicorn without its signal handlers (the caller decides what stops it)."""

            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

            async def on_tick(self, counter: int) -> bool:
                if should_stop():
                    stop.set()
                return stop.is_set() or await super().on_tick(counter)

        self._server = _Uvicorn(config)

    def stop_when(self, should_stop: Callable[[], bool]) -> None:
        """Also stop once ``should_stop()`` is true (a job's stop request)."""
        self._should_stop = should_stop

    def run(self) -> None:
        """Serve until ``stop`` is set or ``should_stop()`` is true (checked every 0.1 s); blocking."""
        try:
            asyncio.run(self._server.serve(sockets=[self.sock]))
        finally:
            self.sock.close()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[Server]:
        """Serve in a background thread for the duration of the block (tests, the benchmark)."""
        thread = threading.Thread(target=self.run, name="slmw serve", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            thread.join(timeout=SHUTDOWN_GRACE_S + 10)
