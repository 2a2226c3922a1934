"""``slmw models list | prepare | info`` (``prepare`` is stage ``models.prepare``'s command: ``add_prepare``)."""

from __future__ import annotations

import argparse
import sys

from ..config.recipes import PrepareModelRecipe
from ..engine.models.chat_template import describe
from ..engine.models.info import model_info
from ..engine.models.resolve import parse_model, prepared_models
from .jobs import add_job_flags, run_recipe_job
from .output import human_bytes, human_count, print_json, table
from .recipe_flags import add_recipe_flags, build_recipe
from .stage_cmd import add_stage_verbs


def add_parser(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="list, prepare and inspect models")
    verbs = models.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("list", help="built-in and prepared models")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    add_stage_verbs(verbs, ("models",))  # prepare (add_prepare)

    p = verbs.add_parser("info", help="architecture, size, parameters, where it lives")
    p.add_argument("model")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)


def add_prepare(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("prepare", help="convert a GGUF / fetch a hub id into a local HF folder (as a job)")
    # the recipe's ``force`` (convert again) is --reconvert: --force is every job command's preflight override
    add_recipe_flags(p, PrepareModelRecipe, positional=("model",), renames={"force": "reconvert"})
    add_job_flags(p, stage="models.prepare")
    p.set_defaults(func=cmd_prepare)


def cmd_list(args: argparse.Namespace) -> int:
    infos = [model_info(ref) for ref in prepared_models()]
    if args.json:
        print_json([i.as_dict() for i in infos])
        return 0
    rows = [(i.name, i.kind, "yes" if i.prepared else "no", human_count(i.parameters), human_bytes(i.size_bytes),
             describe(i.chat_template) if i.chat_template else "-", i.folder) for i in infos]
    print(table(["NAME", "KIND", "PREPARED", "PARAMS", "SIZE", "TEMPLATE", "FOLDER"], rows))
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    ref = parse_model(args.model)  # fail here, before a job is started, on a bad reference
    recipe = build_recipe(args, where="slmw models prepare")
    return run_recipe_job(recipe, title=f"prepare {ref.name}", args=args)


def ensure_model(spec: str | None, *, quiet: bool = False) -> None:
    """Before a command uses ``spec``: when it is the built-in model and not prepared yet, prepare
    it as a job and follow that job here (progress on stderr) until the model is there."""
    from ..engine.first_use import ensure_prepared

    def say(text: str) -> None:
        if not quiet:
            print(f"· {text}", file=sys.stderr, flush=True)

    try:
        ensure_prepared(spec, on_progress=say)
    except KeyboardInterrupt:
        print("\nslmw: stopped waiting; the model is still being prepared (slmw runs list)", file=sys.stderr)
        raise SystemExit(130) from None


def cmd_info(args: argparse.Namespace) -> int:
    info = model_info(parse_model(args.model))
    if args.json:
        print_json(info.as_dict())
        return 0
    for key, value in info.as_dict().items():
        if key == "size_bytes":
            value = human_bytes(value)
        elif key == "parameters":
            value = f"{value:,}" if value else "-"
        elif key == "chat_template" and value:
            value = describe(value)
        print(f"{key:15} {value if value not in (None, '') else '-'}")
    return 0
