"""``slmw data preview | validate | stats | prepare | generate``.

Exit codes of ``validate``: 0 every row is valid, 1 some row is not (or the settings do not
fit the file), 2 the file cannot be read at all. Every message names the file; ``--json``
prints one object (also for the failures that end with exit 2). ``prepare`` runs here by
default (it is quick and its errors belong on this terminal); ``--job`` starts it as a
detached job instead, like ``slmw run`` with a ``data.prepare`` recipe.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..config.recipes import PrepareDataRecipe
from ..engine.data import DataFileError, open_source, preview, validate
from ..engine.errors import WorkbenchError
from .data_output import ProgressPrinter, cell, issue_lines, show_sample, summary_lines
from .jobs import add_job_flags, run_recipe_job
from .models_cmd import ensure_model
from .output import human_bytes, print_json
from .recipe_flags import add_recipe_flags, build_recipe
from .stage_cmd import add_stage_verbs

COMMON = ("source", "format", "columns", "roles", "template", "split", "model", "chat_template")
"""The fields every verb takes: what to read and how (``source`` is the PATH argument)."""
CLEANING = ("train_on", "max_length", "min_tokens", "dedupe", "eval_fraction", "seed", "on_error")


def _recipe_flags(p: argparse.ArgumentParser, fields: tuple[str, ...], **kwargs: Any) -> None:
    add_recipe_flags(p, PrepareDataRecipe, fields=fields, positional=("source",), renames={"source": "path"},
                     aliases={"columns": ["--map"], "roles": ["--role"], "output": ["-o"]}, **kwargs)


def add_parser(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="preview, validate, measure and prepare datasets")
    verbs = data.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("preview", help="the first rows, the detected format, and a rendered sample")
    _recipe_flags(p, (*COMMON, "train_on"))
    p.add_argument("-n", "--rows", type=int, default=5, help="rows to show (default 5)")
    p.add_argument("--render", type=int, metavar="ROW", help="render row ROW (1-based) with the loss mask")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_preview)

    p = verbs.add_parser("validate", help="check every row; each problem with its line, field and a fix")
    _recipe_flags(p, COMMON)
    # not the recipe's max_length (rows dropped): here a check that is off unless given
    p.add_argument("--max-length", type=int, help="also flag rows longer than this many tokens (loads the tokenizer)")
    p.add_argument("--max-issues", type=int, default=50, help="issues to print (default 50; --json lists up to 1000)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_validate)

    p = verbs.add_parser("stats", help="token lengths, histogram and what cleaning would drop (writes nothing)")
    _recipe_flags(p, (*COMMON, *CLEANING))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    add_stage_verbs(verbs, ("data",))  # prepare (add_prepare) and generate (data_generate_cmd.py)


def add_prepare(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("prepare", help="write a checked, tokenized, split dataset and manifest.json",
                         description="Runs here by default; --job (or --detach) runs it as a job, followed "
                                     "until it ends unless --detach.")
    _recipe_flags(p, (*COMMON, *CLEANING, "output", "output_format", "overwrite"), required=("output",))
    p.add_argument("--job", action="store_true", help="run as a job (see `slmw runs`), followed until it ends")
    add_job_flags(p, stage="data.prepare")
    p.set_defaults(func=cmd_prepare)


def _named(exc: WorkbenchError, path: str) -> WorkbenchError:
    """Every message names the file: prefix it where the engine's message does not."""
    if path not in exc.message:
        exc.message = f"{path}: {exc.message}"
        exc.args = (exc.message,)
    return exc


def _fail_json(exc: WorkbenchError, path: str) -> int:
    print_json({"file": path, "ok": False, "readable": not isinstance(exc, DataFileError),
                "error": exc.message, "hint": exc.hint})
    return exc.exit_code


def cmd_preview(args: argparse.Namespace) -> int:
    args.recipe_flags.fill_defaults(args)
    try:
        pv = preview(args.path, max(1, args.rows), format=args.format, columns=dict(args.columns), roles=dict(args.roles))
        sample = _render(args, pv) if args.render else None
    except WorkbenchError as exc:
        raise _named(exc, args.path) from None
    det = pv.detection
    fmt = det.spec.describe() if det.spec else None
    if args.json:
        print_json({"file": args.path, "kind": pv.source.kind, "bytes": pv.source.size, "columns": pv.columns,
                    "format": fmt, "reason": det.reason, "rows": pv.rows, "row_numbers": [loc.row for loc in pv.locs],
                    "issues": [i.as_dict() for i in pv.issues], "seconds": round(pv.seconds, 4),
                    "sample": None if sample is None else {"text": sample.text, "input_ids": sample.input_ids,
                                                           "labels": sample.labels, "segments": sample.segments()}})
        return 0
    size = f", {human_bytes(pv.source.size)}" if pv.source.size is not None else ""
    print(f"{args.path}: {pv.source.kind}{size}")
    print(f"format: {fmt or 'unknown'} ({det.reason}){'' if args.format != 'auto' else '; confirm it, or choose with --format'}")
    print(f"columns: {', '.join(pv.columns) or '-'}")
    for loc, row in zip(pv.locs, pv.rows):
        where = f"line {loc.line}" if loc.line else f"row {loc.row}"
        print(f"  {where:>9}  " + "  ".join(f"{k}={cell(v, 60)}" for k, v in row.items()))
    for issue in pv.issues:
        for line in issue_lines(issue):
            print("  " + line)
    if sample is not None:
        print(f"row {args.render} as the model sees it: {sample.n_tokens} tokens, {sample.n_trained} trained "
              f"({'assistant turns' if args.train_on == 'completion' else 'all tokens'}; trained text in ⟦ ⟧ or green), "
              f"rendered with {sample.template}")
        show_sample(sample, sys.stdout)
    return 0


def _render(args: argparse.Namespace, pv: Any) -> Any:
    from ..engine.data import load_tokenizer, render_sample

    wanted = args.render
    if wanted not in [loc.row for loc in pv.locs]:
        pv = preview(pv.source, wanted, format=args.format, columns=dict(args.columns), roles=dict(args.roles))
    match = [(loc, row) for loc, row in zip(pv.locs, pv.rows) if loc.row == wanted]
    if not match:
        raise WorkbenchError(f"{args.path}: row {wanted} is not a readable row", hint="see `slmw data validate`")
    loc, row = match[0]
    ensure_model(args.model, quiet=args.json)
    tokenizer = load_tokenizer(args.model, args.chat_template)
    return render_sample(row, tokenizer, spec=pv.detection.spec, template=args.template,
                         train_on=args.train_on, loc=loc, file=args.path)


def cmd_validate(args: argparse.Namespace) -> int:
    if args.model or args.max_length is not None:  # the checks that tokenize (before defaults fill in)
        ensure_model(args.model, quiet=args.json)
    args.recipe_flags.fill_defaults(args)
    progress = ProgressPrinter(args.path)
    try:
        report = validate(args.path, format=args.format, columns=dict(args.columns), roles=dict(args.roles),
                          template=args.template, model=args.model, chat_template=args.chat_template,
                          max_length=args.max_length,
                          max_issues=max(args.max_issues, 1000 if args.json else 0), on_progress=progress)
    except WorkbenchError as exc:
        progress.done()
        exc = _named(exc, args.path)
        if args.json:
            return _fail_json(exc, args.path)
        raise exc from None
    progress.done()
    if args.json:
        print_json(report.as_dict())
        return 0 if report.ok else 1
    print(f"{args.path}: {report.kind}, format {report.format} ({report.detected})")
    shown = 0
    for n, issue in enumerate(report.issues):
        if shown >= args.max_issues:
            break
        shown += 1
        for line in issue_lines(issue, report.repeats.get(n, 1)):
            print(line)
    hidden = len(report.issues) - shown + report.truncated
    if hidden > 0:
        print(f"... and {hidden} more issues (--max-issues N, or --json)")
    counts = ", ".join(f"{code} {n}" for code, n in sorted(report.counts.items(), key=lambda kv: -kv[1]))
    verdict = "valid" if report.ok else "INVALID"
    print(f"{args.path}: {verdict}: {report.rows} rows, {report.valid} valid, {report.invalid} invalid"
          + (f", {report.too_long} too long" if report.too_long else "")
          + (f"; {_plural(report.errors, 'error')}, {_plural(report.warnings, 'warning')} ({counts})" if counts else ""))
    return 0 if report.ok else 1


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _recipe(args: argparse.Namespace, output: str) -> Any:
    def absolute(value: str | None) -> str | None:
        return str(Path(value).expanduser().resolve()) if value and Path(value).expanduser().exists() else value

    return build_recipe(args, where="slmw data", fixed={
        "source": absolute(args.path), "output": str(Path(output).expanduser().resolve()), "model": absolute(args.model)})


def _run_prepare(args: argparse.Namespace, *, write: bool) -> int:
    from ..engine.data import prepare_dataset

    recipe = _recipe(args, args.output if write else "-")
    ensure_model(recipe.model, quiet=args.json)
    progress = ProgressPrinter(args.path)
    try:
        result = prepare_dataset(recipe, on_progress=progress, write=write)
    except WorkbenchError as exc:
        raise _named(exc, args.path) from None
    finally:
        progress.done()
    if args.json:
        print_json({**result.manifest, "output": str(result.output) if result.output else None})
        return 0
    print(f"{args.path}: format {result.manifest['format']['name'] if result.manifest['format'] else 'template'}, "
          f"tokenizer {result.manifest['tokenizer']['folder']}")
    for line in summary_lines(result):
        print(line)
    if result.issues:
        print(f"issues ({sum(result.manifest['issues']['counts'].values())}; the first few; all with `slmw data validate`):")
        for issue in result.issues[:5]:
            for line in issue_lines(issue):
                print("  " + line)
    if result.output is not None:
        print(f"wrote {result.output} ({recipe.output_format}) and {result.output / 'manifest.json'}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    return _run_prepare(args, write=False)


def cmd_prepare(args: argparse.Namespace) -> int:
    if not (args.job or args.detach):
        return _run_prepare(args, write=True)
    ensure_model(args.model, quiet=args.json)
    try:
        open_source(args.path, split=args.split)  # fail here, before a job starts, on an unreadable source
    except WorkbenchError as exc:
        raise _named(exc, args.path) from None
    recipe = _recipe(args, args.output)
    return run_recipe_job(recipe, title=f"prepare data {Path(args.path).name}", args=args)
