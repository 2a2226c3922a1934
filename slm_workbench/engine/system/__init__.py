"""Machine telemetry for the monitor: CPU, RAM and, through NVML, each GPU.

NVML is optional: without an NVIDIA driver ``gpus()`` is empty, never an error.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class GpuSample:
    index: int
    name: str
    util_percent: float
    mem_used: int
    mem_total: int
    temperature_c: float | None = None
    power_w: float | None = None


@dataclass(frozen=True)
class SystemSample:
    cpu_percent: float
    cpu_count: int
    ram_used: int
    ram_total: int
    gpus: list[GpuSample] = field(default_factory=list)


class _Nvml:
    """Initialises NVML once per process; remembers when there is none."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: bool | None = None
        self.error = ""

    def available(self) -> bool:
        with self._lock:
            if self._state is None:
                try:
                    import pynvml

                    pynvml.nvmlInit()
                    self._state = True
                except Exception as exc:  # noqa: BLE001 - no driver, no library, no GPU: all mean "none"
                    self.error = str(exc)
                    self._state = False
            return self._state


_NVML = _Nvml()


def gpus() -> list[GpuSample]:
    if not _NVML.available():
        return []
    import pynvml

    samples = []
    for index in range(pynvml.nvmlDeviceGetCount()):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        name = pynvml.nvmlDeviceGetName(handle)
        mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
        util = pynvml.nvmlDeviceGetUtilizationRates(handle)
        try:
            temp: float | None = float(pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU))
        except pynvml.NVMLError:
            temp = None
        try:
            power: float | None = pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
        except pynvml.NVMLError:
            power = None
        samples.append(
            GpuSample(
                index=index,
                name=name.decode() if isinstance(name, bytes) else str(name),
                util_percent=float(util.gpu),
                mem_used=int(mem.used),
                mem_total=int(mem.total),
                temperature_c=temp,
                power_w=power,
            )
        )
    return samples


def sample() -> SystemSample:
    import psutil

    vm = psutil.virtual_memory()
    return SystemSample(
        cpu_percent=psutil.cpu_percent(interval=None),
        cpu_count=psutil.cpu_count() or 1,
        ram_used=int(vm.total - vm.available),
        ram_total=int(vm.total),
        gpus=gpus(),
    )
