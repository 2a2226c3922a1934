"""``slmw recipes list | show NAME``: the recipes shipped with the workbench.

Any command that takes a recipe file also takes a shipped recipe's name (``slmw train
smoke-lora``); ``show`` prints one to copy and edit (``slmw recipes show smoke-lora > mine.yaml``).
"""

from __future__ import annotations

import argparse

from ..shipped import shipped_recipe, shipped_recipes
from .output import print_json, table


def add_parser(sub: argparse._SubParsersAction) -> None:
    recipes = sub.add_parser("recipes", help="list and print the shipped recipes")
    verbs = recipes.add_subparsers(dest="verb", required=True, metavar="VERB")
    p = verbs.add_parser("list", help="every shipped recipe: name, stage, the command that runs it")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = verbs.add_parser("show", help="print a shipped recipe (redirect it to a file to make your own)")
    p.add_argument("name", help="a name from `slmw recipes list`")
    p.set_defaults(func=cmd_show)


def _summary(name: str, path) -> dict[str, str]:
    from ..config.loading import read_recipe_data

    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0] if text else ""
    stage = read_recipe_data(path).get("stage", "")
    return {"name": name, "stage": stage, "command": first.lstrip("# ").strip(), "path": str(path)}


def cmd_list(args: argparse.Namespace) -> int:
    rows = [_summary(name, path) for name, path in shipped_recipes().items()]
    if args.json:
        print_json(rows)
    else:
        print(table(["NAME", "STAGE", "COMMAND"], [(r["name"], r["stage"], r["command"]) for r in rows]))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    print(shipped_recipe(args.name).read_text(encoding="utf-8"), end="")
    return 0
