"""``slmw deploy gguf SOURCE --type f16|q8_0|q4_k_m [-o DIR]``: a GGUF + Ollama Modelfile, as a job.

The source and the output are checked here, before a job starts: a variant instead of a
model, an output that exists without ``--force``, a model neither writer can handle (see
``engine/deploy/gguf/stage.py``) each end in one line. ``--force`` is the job convention's flag; here
it also lets the job replace an existing output folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config.deploy_gguf import GgufRecipe
from .jobs import add_job_flags, launch_until_done
from .output import print_json
from .recipe_flags import add_recipe_flags, build_recipe


def add_command(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("gguf", help="a model or fine-tuned run as a GGUF for llama.cpp / Ollama, with a Modelfile",
                         description=(GgufRecipe.__doc__ or "").strip())
    add_recipe_flags(p, GgufRecipe, positional=("source",), aliases={"output": ["-o"]},
                     exclude={"force": "--force (the job flag) also replaces an existing output"},
                     help={"source": "model name, HF folder, GGUF, or a training run id (its adapter is merged)"})
    add_job_flags(p, stage="deploy.gguf")
    p.set_defaults(func=cmd_gguf)


def check(recipe: GgufRecipe) -> str:
    """Refuse, before a job starts, what the job would refuse; the source's name otherwise."""
    from ..engine.deploy.gguf.stage import plan, refuse_existing, resolve_gguf_source
    from ..engine.first_use import model_to_prepare

    if recipe.output is not None:
        refuse_existing(Path(recipe.output), recipe.force)
    missing = model_to_prepare(recipe.source)
    if missing is not None:  # the built-in model, not prepared yet: the job prepares it (it came from a GGUF)
        return missing.name
    source = resolve_gguf_source(recipe.source)
    plan(source, recipe)
    return source.name


def cmd_gguf(args: argparse.Namespace) -> int:
    from ..engine.runs.run import Run

    output = str(Path(args.output).expanduser().resolve()) if args.output else None  # the job's cwd is its run dir
    recipe = build_recipe(args, where="slmw deploy gguf", fixed={"force": bool(args.force),
                                                                **({"output": output} if output else {})})
    name = check(recipe)
    info = launch_until_done(recipe, title=f"gguf {name}: {recipe.type}", args=args)
    if info is None:
        return 0
    folder = Path(recipe.output) if recipe.output else Run(info.dir).artifact(f"gguf-{recipe.type}")
    manifest = json.loads((folder / "gguf.json").read_text(encoding="utf-8"))
    if args.json:
        print_json({"run": info.dir.name, "folder": str(folder), **manifest})
        return 0
    print(f"{folder / manifest['file']}  {manifest['size_bytes'] / 1e6:,.0f} MB  {manifest['type']}  "
          f"({manifest['writer']} writer)")
    print(f"{folder / manifest['modelfile']}  (template: {manifest['template']})")
    llama_check = manifest.get("check") or {}
    print(f"llama.cpp check: {llama_check.get('verdict', 'none recorded')}: {llama_check.get('detail', '')}")
    print(f"ollama: cd {folder} && ollama create {name} -f Modelfile")
    return 0
