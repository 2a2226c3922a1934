"""CPU, RAM and GPU gauges with a short history, sampled off the UI thread."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import Sparkline, Static

from ..format import bar, human_bytes
from ..messages import SystemSampled
from ..visibility import is_shown

if TYPE_CHECKING:
    from ...engine.system import SystemSample

HISTORY = 60


class SystemMonitor(Static):
    """Samples every ``interval`` seconds in a thread worker; redraws on each sample."""

    DEFAULT_CSS = """
    SystemMonitor { height: auto; }
    SystemMonitor #system-text { height: auto; }
    SystemMonitor Sparkline { height: 2; margin-bottom: 1; }
    """

    def __init__(self, sampler: Callable[[], SystemSample] | None = None, interval: float = 2.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self._sampler = sampler
        self._interval = interval
        self._cpu: deque[float] = deque(maxlen=HISTORY)
        self._shown: Text | None = None

    def compose(self) -> ComposeResult:
        yield Static("sampling…", id="system-text")
        yield Sparkline(list(self._cpu), summary_function=max, id="cpu-history")

    def on_mount(self) -> None:
        self.border_title = "System"
        self.call_after_refresh(self.sample)
        self.set_interval(self._interval, self._tick)

    def _tick(self) -> None:
        if is_shown(self):  # nobody looks at a hidden monitor: no sampling, no redraw
            self.sample()

    @work(thread=True, exclusive=True, group="system-sample", description="sample CPU/RAM/GPU", exit_on_error=False)
    def sample(self) -> None:
        if self._sampler is None:
            from ...engine.system import sample

            self._sampler = sample
        self.post_message(SystemSampled(self._sampler()))

    def on_system_sampled(self, message: SystemSampled) -> None:
        message.stop()
        self._last = message.sample
        self._cpu.append(message.sample.cpu_percent)
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        snap = getattr(self, "_last", None)
        if snap is None:
            return
        text = self._compact(snap) if self.size.height <= 1 else self._full(snap)
        if text != self._shown:  # repaint only what changed
            self._shown = text
            self.query_one("#system-text", Static).update(text)
        self.query_one(Sparkline).data = list(self._cpu)

    @staticmethod
    def _compact(snap: SystemSample) -> Text:
        """One line, for narrow terminals."""
        text = Text(f"CPU {snap.cpu_percent:.0f}% of {snap.cpu_count}  RAM {human_bytes(snap.ram_used)}/{human_bytes(snap.ram_total)}")
        for gpu in snap.gpus:
            text.append(f"  GPU{gpu.index} {gpu.util_percent:.0f}% {human_bytes(gpu.mem_used)}/{human_bytes(gpu.mem_total)}")
        if not snap.gpus:
            text.append("  no GPU", style="dim")
        return text

    @staticmethod
    def _full(snap: SystemSample) -> Text:
        text = Text()
        text.append(f"CPU {bar(snap.cpu_percent / 100, 10)} {snap.cpu_percent:3.0f}% of {snap.cpu_count}\n")
        ram = snap.ram_used / snap.ram_total if snap.ram_total else 0
        text.append(f"RAM {bar(ram, 10)} {human_bytes(snap.ram_used)}/{human_bytes(snap.ram_total)}")
        if not snap.gpus:
            text.append("\nGPU none (no NVML)", style="dim")
        for gpu in snap.gpus:
            mem = gpu.mem_used / gpu.mem_total if gpu.mem_total else 0
            text.append(f"\nGPU{gpu.index} {gpu.name[:22]}\n", style="bold")
            text.append(f" use {bar(gpu.util_percent / 100, 8)} {gpu.util_percent:3.0f}%\n")
            text.append(f" mem {bar(mem, 8)} {human_bytes(gpu.mem_used)}/{human_bytes(gpu.mem_total)}")
        return text
