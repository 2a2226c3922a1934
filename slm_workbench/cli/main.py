"""The ``slmw`` command. With no arguments it opens the TUI.

Every failure the user can cause prints one line (``slmw: error: ...``, plus a hint) and
exits non-zero; tracebacks are for bugs only.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .. import __version__
from ..engine.errors import WorkbenchError

if TYPE_CHECKING:
    import argparse


def build_parser() -> argparse.ArgumentParser:
    import argparse  # not needed for `slmw` alone, which opens the TUI

    from . import chat_cmd, data_cmd, demo_cmd, models_cmd, recipes_cmd, run_cmd, runs_cmd, system_cmd
    from .stage_cmd import add_stage_commands

    parser = argparse.ArgumentParser(
        prog="slmw",
        description="SLM Workbench: data, fine-tuning, quantization, chat and deployment of small language models.",
        epilog="Run `slmw` with no arguments to open the terminal UI.",
    )
    parser.add_argument("--version", action="version", version=f"slmw {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    ui = sub.add_parser("ui", help="open the terminal UI (the same as `slmw` alone)")
    ui.set_defaults(func=cmd_ui)
    for module in (demo_cmd, data_cmd, models_cmd, runs_cmd, run_cmd, recipes_cmd, system_cmd, chat_cmd):
        module.add_parser(sub)  # the commands that are not stages (and the groups holding stage verbs)
    add_stage_commands(sub)  # every stage's command, from the stage registry
    return parser


def cmd_ui(_args: argparse.Namespace | None = None) -> int:
    from ..ui.app import make_app

    make_app().run()
    return 0


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    try:
        if not args_list:
            return cmd_ui()
        parser = build_parser()
        args = parser.parse_args(args_list)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        print(f"slmw: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"slmw: hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("slmw: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
