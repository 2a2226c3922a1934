"""What every pane is built with: the run store, the system sampler and the poll interval.

One constructor signature for every pane (``Pane(context, **widget_kwargs)``) lets the
workbench screen build any pane from its table without knowing what it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine.runs.store import RunStore
    from ..engine.system import SystemSample


@dataclass(frozen=True)
class PaneContext:
    run_store: RunStore
    sampler: Callable[[], SystemSample] | None = None
    """Samples CPU/RAM/GPU for the system monitor (None: the real one)."""
    poll_interval: float = 1.0
