"""Which function runs each job stage.

Stages are named by import path and imported only inside the worker process, so neither
the CLI nor the TUI pays for the ML stack a stage needs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from .runs.context import RunContext

STAGE_RUNNERS: dict[str, str] = {
    "data.prepare": "slm_workbench.engine.data.stage:run",
    "compare": "slm_workbench.engine.compare.stage:run",
    "export": "slm_workbench.engine.export.stage:run",
    "models.prepare": "slm_workbench.engine.models.prepare_stage:run",
    "system.check": "slm_workbench.engine.system_check:run",
    "train": "slm_workbench.engine.train.stage:run",
}


def runner_for(stage: str) -> Callable[[Any, RunContext], None]:
    try:
        target = STAGE_RUNNERS[stage]
    except KeyError:
        raise KeyError(f"no runner for stage {stage!r}") from None
    module_name, _, func = target.partition(":")
    return getattr(importlib.import_module(module_name), func)
