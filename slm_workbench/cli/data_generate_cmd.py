"""``slmw data generate --teacher T --prompts P -o OUT [--resume] …``: a teacher answers prompts, as a job.

OUT receives ``rows.jsonl`` (every answer with its verdict), ``data.jsonl`` (the kept rows: a
chat dataset ``slmw train --data OUT/data.jsonl`` takes as is) and ``manifest.json``
(docs/distill.md). An OUT that already holds rows is refused unless ``--resume``: then the
job goes on where those rows stop, with the same settings (a different one is refused,
naming it). The prompts and the checker are read before the job starts, so a bad one is one
line here. By default the job is followed (its progress printed); ``--wait`` waits quietly
and prints the summary; ``--detach`` returns at once.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config.generate import GenerateRecipe
from ..engine.errors import WorkbenchError
from .jobs import add_job_flags
from .output import print_json
from .recipe_flags import add_recipe_flags, build_recipe

RENAMES = {"samples_per_prompt": "samples", **{f"filters.{name}": name for name in (
    "valid_json", "min_chars", "max_chars", "dedupe", "drop_truncated", "checker")}}


def add_command(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("generate", help="a teacher answers prompts; the answers become a dataset (a job)",
                         description=(GenerateRecipe.__doc__ or "").strip())
    add_recipe_flags(p, GenerateRecipe, renames=RENAMES, aliases={"output": ["-o"]},
                     required=("teacher", "prompts", "output"),
                     help={"output": "The folder receiving data.jsonl (the kept rows, a chat dataset `slmw train` "
                                     "takes as is), rows.jsonl (every answer with its verdict) and manifest.json."})
    p.add_argument("--resume", action="store_true",
                   help="OUT already holds rows of this generation: go on where they stop (same settings)")
    p.add_argument("--wait", action="store_true",
                   help="wait quietly until the job ends, then print the summary (default: print its progress)")
    add_job_flags(p, stage="data.generate")
    p.set_defaults(func=cmd_generate)


def _absolute(value: str | None) -> str | None:
    """A path the job (which runs in its run directory) finds: absolute when it names something here."""
    if value and Path(value).expanduser().exists():
        return str(Path(value).expanduser().resolve())
    return value


def _checker(value: str | None) -> str | None:
    if value and value.count(":") >= 1:
        path, _, name = value.rpartition(":")
        if path.endswith(".py"):
            return f"{_absolute(path)}:{name}"
    return value


def build(args: argparse.Namespace) -> GenerateRecipe:
    fixed: dict[str, Any] = {"teacher": _absolute(args.teacher), "prompts": _absolute(args.prompts),
                             "output": str(Path(args.output).expanduser().resolve())}
    if args.checker:
        fixed["filters"] = {"checker": _checker(args.checker)}
    return build_recipe(args, where="slmw data generate", fixed=fixed)


def refuse_reuse(out: Path, resume: bool) -> None:
    from ..engine.generate.layout import GENERATED_ROWS

    rows = out / GENERATED_ROWS
    if not resume and rows.is_file() and rows.stat().st_size > 0:
        raise WorkbenchError(f"{out} already holds generated rows ({rows.name})",
                             hint="pass --resume to go on where they stop, or choose another output folder")


def cmd_generate(args: argparse.Namespace) -> int:
    from ..engine.generate.loop import read_manifest
    from .jobs import launch_and_wait

    recipe = build(args)
    out = Path(recipe.output or "")
    refuse_reuse(out, args.resume)
    title = f"generate {Path(recipe.prompts).name} with {recipe.teacher}"
    info = launch_and_wait(recipe, title=title, args=args)
    if info is None:
        return 0
    manifest = read_manifest(out)
    if args.json:
        print_json({"id": info.id, "state": info.state, "output": str(out), "manifest": manifest})
        return 0 if info.state == "done" else 1
    if info.state != "done":
        from ..engine.runs.run import Run

        error = Run(info.dir).last_error()
        raise WorkbenchError(f"run {info.id}: {error.message if error else f'the job ended {info.state}'}",
                             hint=(error.hint if error and error.hint else
                                   "the rows so far are kept; go on with the same command and --resume"))
    if manifest is not None:
        from ..engine.generate.stage import summary_line

        print(summary_line(manifest, out).removeprefix("[generate] "))
    return 0
