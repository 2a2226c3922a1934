"""``slmw deploy VERB …``: the group every deployment target adds its verb to.

Each verb lives in a module of its own (``deploy_foundry_cmd``, ``deploy_gguf_cmd``,
``deploy_bench_cmd`` …) with an ``add_verb(verbs)`` function; ``VERB_MODULES`` lists them.
"""

from __future__ import annotations

import argparse
import importlib

VERB_MODULES: tuple[str, ...] = (
    "deploy_foundry_cmd",
    "deploy_gguf_cmd",
    "deploy_bench_cmd",
)
"""Modules under ``slm_workbench.cli`` each adding one ``slmw deploy`` verb (``add_verb(verbs)``)."""


def deploy_verbs(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The subcommands of ``slmw deploy``, created on first use."""
    parent = sub.choices.get("deploy")
    if parent is None:
        parent = sub.add_parser("deploy", help="package, convert, serve and benchmark a model for where it will run")
        parent.add_subparsers(dest="deploy_verb", required=True, metavar="VERB")
    for action in parent._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise AssertionError("`slmw deploy` has no subcommands")


def add_parser(sub: argparse._SubParsersAction) -> None:
    if not VERB_MODULES:
        return
    verbs = deploy_verbs(sub)
    for name in VERB_MODULES:
        importlib.import_module(f"{__package__}.{name}").add_verb(verbs)
