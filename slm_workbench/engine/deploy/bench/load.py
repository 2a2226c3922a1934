"""The load benchmark's measurement: N clients at once against one server on this machine.

Each client is a thread sending its requests one after another through ``HttpBackend``
(the client ``slmw chat`` uses for any endpoint), streamed, greedy, so time to first token
is measured where a user feels it. Per client count: TTFT p50/p95 over all requests,
tokens/s per client (its tokens over its busy time, averaged over clients) and in aggregate
(all tokens over the level's wall time), errors, and the server's peak RSS sampled while
the clients ran.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlparse

from ....config.serve import LOOPBACK_HOSTS
from ...errors import WorkbenchError

RSS_SAMPLE_S = 0.2


def require_loopback(url: str) -> None:
    """The benchmark loads this machine only: a URL elsewhere is refused."""
    host = urlparse(url).hostname or ""
    if host not in LOOPBACK_HOSTS:
        raise WorkbenchError(f"refusing to benchmark {url}: only a server on this machine (127.0.0.1) is loaded",
                             hint="start it here (slmw serve) or give a model spec to serve for the benchmark")


@dataclass
class RequestResult:
    client: int
    ttft_s: float | None = None
    tokens: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass
class Level:
    clients: int
    requests: int = 0
    errors: int = 0
    ttft_p50_s: float | None = None
    ttft_p95_s: float | None = None
    tok_s_per_client: float | None = None
    tok_s_aggregate: float | None = None
    tokens: int = 0
    wall_s: float = 0.0
    peak_rss_mb: float | None = None
    error_examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize(clients: int, results: list[RequestResult], wall_s: float, peak_rss: int | None) -> Level:
    ok = [r for r in results if r.error is None]
    ttfts = [r.ttft_s for r in ok if r.ttft_s is not None]
    per_client = []
    for c in range(clients):
        mine = [r for r in ok if r.client == c]
        busy = sum(r.seconds for r in mine)
        if busy > 0:
            per_client.append(sum(r.tokens for r in mine) / busy)
    tokens = sum(r.tokens for r in ok)
    errors = [r.error for r in results if r.error is not None]
    return Level(
        clients=clients, requests=len(results), errors=len(errors),
        ttft_p50_s=_round(percentile(ttfts, 0.5)), ttft_p95_s=_round(percentile(ttfts, 0.95)),
        tok_s_per_client=_round(sum(per_client) / len(per_client)) if per_client else None,
        tok_s_aggregate=_round(tokens / wall_s) if wall_s > 0 else None,
        tokens=tokens, wall_s=round(wall_s, 3), peak_rss_mb=round(peak_rss / 1e6, 1) if peak_rss else None,
        error_examples=sorted(set(errors))[:3],
    )


class RssPeak:
    """Sample a process's resident memory (with its children) until stopped; keep the peak."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss sampler")

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psutil

        if self.pid is None:
            return
        while True:
            try:
                proc = psutil.Process(self.pid)
                rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
                self.peak = max(self.peak, rss)
            except psutil.Error:
                pass
            if self._stop.wait(RSS_SAMPLE_S):
                return


def run_level(url: str, model: str, clients: int, *, requests: int, max_tokens: int, prompt: str,
              deadline: float, api_key_env: str | None, server_pid: int | None,
              cancelled: Callable[[], bool] = lambda: False, alternate: list[str] | None = None) -> Level:
    """``clients`` threads, each sending ``requests`` requests in turn, until ``deadline`` (monotonic).
    ``alternate``: model ids the requests take in turn instead of ``model`` (adapters over one base)."""
    from ...chat.http_backend import HttpBackend
    from ...chat.session import answer
    from ...chat.types import DEFAULT_KEY_ENV, GenParams

    params = GenParams(temperature=0.0, max_new_tokens=max_tokens)
    messages = [{"role": "user", "content": prompt}]
    results: list[RequestResult] = []
    lock = threading.Lock()
    halt = threading.Event()

    def client(index: int) -> None:
        for k in range(requests):
            asked = alternate[(index + k) % len(alternate)] if alternate else model
            remaining = deadline - time.monotonic()
            result = RequestResult(index)
            if halt.is_set() or cancelled() or remaining <= 0:
                result.error = "not sent: the benchmark's time limit was reached" if remaining <= 0 else "stopped"
            else:
                start = time.perf_counter()
                try:
                    backend = HttpBackend(url, model=asked, api_key_env=api_key_env or DEFAULT_KEY_ENV,
                                          timeout=max(1.0, remaining))
                    reply = answer(backend, messages, params, stop=halt)  # type: ignore[arg-type]
                    result.ttft_s, result.tokens = reply.ttft_s, reply.tokens
                    if reply.stopped or reply.tokens == 0:
                        result.error = "no tokens" if not reply.stopped else "stopped"
                except Exception as exc:  # noqa: BLE001 - an error is a figure of the benchmark
                    result.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                result.seconds = time.perf_counter() - start
            with lock:
                results.append(result)

    def watchdog() -> None:
        while not halt.wait(0.2):
            if cancelled() or time.monotonic() > deadline:
                halt.set()

    threads = [threading.Thread(target=client, args=(i,), daemon=True, name=f"bench client {i}") for i in range(clients)]
    guard = threading.Thread(target=watchdog, daemon=True)
    with RssPeak(server_pid) as rss:
        start = time.perf_counter()
        guard.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        halt.set()
    return summarize(clients, results, wall, rss.peak or None)


def table(levels: list[Level]) -> str:
    """The benchmark as a Markdown table."""
    head = "| clients | requests | errors | TTFT p50 s | TTFT p95 s | tok/s per client | tok/s aggregate | peak RSS MB |"
    rows = [head, "|" + "---|" * 8]
    for lv in levels:
        cells = [lv.clients, lv.requests, lv.errors, lv.ttft_p50_s, lv.ttft_p95_s, lv.tok_s_per_client,
                 lv.tok_s_aggregate, lv.peak_rss_mb]
        rows.append("| " + " | ".join("–" if c is None else str(c) for c in cells) + " |")
    return "\n".join(rows)


def figure_lines(report: dict[str, Any]) -> list[str]:
    """What ``bench.json`` says beside the table: each client count above 1 against one client (the
    aggregate tokens/s), then the machine's load and what the server ran with."""
    lines = []
    ratios = report.get("speedup_vs_1_client") or {}
    for level in report.get("levels", []):
        clients = level.get("clients")
        if not isinstance(clients, int) or clients < 2:
            continue
        ratio = ratios.get(str(clients))
        lines.append(f"{clients} clients: {ratio:.2f}x the aggregate tokens/s of 1 client" if ratio is not None
                     else f"{clients} clients: no ratio to 1 client (one of the two measured no tokens/s)")
    cpus = report.get("cpu_count")
    load = " ".join(f"{x:.2f}" for x in report.get("load_avg") or [])
    server = (f"server threads {report.get('threads')} · parallel {report.get('parallel')}" if report.get("url") is None
              else f"server at {report['url']}, its threads and parallel as it was started")
    lines.append(f"load average {load or '–'} on {cpus} CPU{'' if cpus == 1 else 's'} · {server}")
    return lines


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
