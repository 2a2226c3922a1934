"""``slmw deploy foundry SOURCE [--name NAME] [-o DIR] [--install] [--force]``: a job, followed.

Every field of the recipe (``config/deploy_foundry.py``) is a flag; ``--force`` replaces a
package (and, with ``--install``, a Foundry Local registration) of that name. ``--json``
prints ``package.json`` and the smoke test's verdict (``smoke.json``).
"""

from __future__ import annotations

import argparse
import json

from ..config.deploy_foundry import FoundryRecipe
from ..engine.runs.run import Run
from .jobs import add_job_flags, launch_until_done
from .output import print_json
from .recipe_flags import add_recipe_flags, build_recipe


def add_command(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("foundry", help="package a model, run or variant for Foundry Local (a job, followed)",
                         description=(FoundryRecipe.__doc__ or "").strip())
    add_recipe_flags(p, FoundryRecipe, positional=("source",), aliases={"output": ["-o"]},
                     exclude={"force": "the job flag --force sets it"})
    add_job_flags(p, stage="deploy.foundry")
    p.set_defaults(func=cmd_foundry)


def check_source(spec: str) -> None:
    """A SOURCE that names nothing fails here, in one line, before a job starts (the built-in model not
    prepared yet passes: the job prepares it)."""
    from ..engine.first_use import model_to_prepare
    from ..engine.model_source import DEPLOY_SOURCE, resolve_source

    if model_to_prepare(spec) is None:
        resolve_source(spec, accept=DEPLOY_SOURCE, prepared=False)


def cmd_foundry(args: argparse.Namespace) -> int:
    from ..engine.deploy.foundry.stage import PACKAGE_JSON
    from ..engine.deploy.foundry.smoke import SMOKE_FILE

    recipe = build_recipe(args, where="slmw deploy foundry", fixed={"force": bool(args.force)})
    check_source(recipe.source)
    info = launch_until_done(recipe, title=f"foundry {recipe.source}", args=args)
    if info is None:
        return 0
    run = Run(info.dir)
    package = json.loads(run.artifact(PACKAGE_JSON).read_text(encoding="utf-8"))
    smoke = json.loads(run.artifact(SMOKE_FILE).read_text(encoding="utf-8"))
    if args.json:
        print_json({"run": info.id, "package": package, "smoke": smoke})
        return 0
    from ..engine.deploy.foundry.smoke import SmokeResult, describe_result

    print(f"package {package['model_id']}: {package['folder']}" + (" (registered)" if package["installed"] else ""))
    print(describe_result(SmokeResult(smoke["verdict"], reason=smoke.get("reason", ""), sdk=smoke.get("sdk"),
                                      prompts=[_prompt(p) for p in smoke.get("prompts", [])])))
    return 0


def _prompt(data: dict):  # noqa: ANN202
    from ..engine.deploy.foundry.smoke import PromptResult

    return PromptResult(**data)
