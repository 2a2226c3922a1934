"""The CLI's flags and help stay the same while the house is rearranged.

``help_golden.json`` holds ``--help`` of every command and subcommand as it was before the
commands came from the stage registry. A change to a command's flags or texts shows here as a
diff; when it is meant, regenerate the file with ``python tests/cli/test_help_unchanged.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

GOLDEN = Path(__file__).with_name("help_golden.json")


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> dict[str, argparse.ArgumentParser]:
    found = {" ".join(prefix): parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(_commands(sub, prefix + (name,)))
    return found


def help_texts() -> dict[str, str]:
    from slm_workbench.cli.main import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal's width
    try:
        return {path: parser.format_help() for path, parser in sorted(_commands(build_parser()).items())}
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def test_every_commands_help_is_unchanged() -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    now = help_texts()
    assert sorted(now) == sorted(golden), "commands added or removed"
    for path, text in golden.items():
        assert now[path] == text, f"`slmw {path} --help` changed"


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    GOLDEN.write_text(json.dumps(help_texts(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")
