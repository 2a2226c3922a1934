"""``slmw demo``: the README's first command. Opens the workbench on the embedded model.

If SmolLM2 is not converted yet, the conversion starts as a job first, so the TUI opens at
once and the Runs pane shows it progressing (and it goes on if the TUI is closed).
"""

from __future__ import annotations

import argparse

from ..engine.models.builtin import DEFAULT_MODEL


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="open the TUI on the embedded demo (prepares SmolLM2 as a job if needed)")
    p.set_defaults(func=cmd_demo)


def ensure_default_model_job() -> str | None:
    """Start preparing the built-in model unless it is prepared or already being prepared."""
    from ..engine.first_use import model_to_prepare, prepare_job

    ref = model_to_prepare(DEFAULT_MODEL)
    return None if ref is None else prepare_job(ref).name


def cmd_demo(_args: argparse.Namespace) -> int:
    ensure_default_model_job()
    from ..ui.app import make_app

    make_app(initial_pane="runs").run()
    return 0
