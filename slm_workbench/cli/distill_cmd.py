"""``slmw distill RECIPE [--set …] [--wait] [--json]``: teacher → data → student → training → card, as one job.

The job's phases run as runs of their own stages where they are long (the teacher's and the
student's training, the generation), so each shows in Runs with its curves; ``slmw runs resume``
on the distillation goes on from the phase (and the row, or the checkpoint) where it stopped. The
end prints the card's three figures; ``--json`` prints the card (``report.json``: ``speedup``,
``memory_ratio``, ``accuracy_retained`` …).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config.distill import DistillRecipe
from .jobs import add_job_flags, launch_and_wait
from .output import print_json
from .recipe_flags import add_recipe_flags, build_recipe


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("distill", help="distil a teacher into a smaller student: data, training and the card (a job)",
                       description=(DistillRecipe.__doc__ or "").strip())
    p.add_argument("recipe", type=Path, help="a YAML recipe with stage: distill (a shipped name works: distill-demo)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field (dotted keys, YAML values: --set student.keep_layers=4); repeatable")
    p.add_argument("--wait", action="store_true", help="wait without printing progress, then print the card")
    add_recipe_flags(p, DistillRecipe)
    add_job_flags(p, stage="distill")
    p.set_defaults(func=cmd_distill)


def cmd_distill(args: argparse.Namespace) -> int:
    from ..config.loading import read_recipe_data, recipe_file
    from ..engine.distill.card import summary_lines
    from ..engine.distill.layout import read_card, read_state
    from ..engine.errors import RecipeError

    where = str(recipe_file(args.recipe))
    data = read_recipe_data(args.recipe, args.overrides)
    if data.get("stage", "distill") != "distill":
        raise RecipeError(f"{where}: stage is {data['stage']!r}; `slmw distill` runs stage: distill")
    recipe = build_recipe(args, where=where, base={**data, "stage": "distill"})
    title = f"distill {Path(where).stem}"
    info = launch_and_wait(recipe, title=title, args=args)
    if info is None:
        return 0
    card = read_card(info.dir)
    if args.json:
        print_json({"id": info.id, "state": info.state, "card": card,
                    "phases": [vars(p) for p in read_state(info.dir).phases]})
    elif card is not None:
        print(f"run {info.id}: {card['student']['spec']} distilled from {card['teacher']['spec']}")
        for line in summary_lines(card):
            print(f"  {line}")
    else:
        state = read_state(info.dir)
        stopped = state.current
        print(f"run {info.id}: {info.state}" + (f" in phase {stopped.name}: {stopped.detail}" if stopped else ""))
    return 0 if info.state == "done" else 1
