"""Prepare a dataset: one checked, tokenized, cleaned and split copy, plus ``manifest.json``.

The manifest is the first link of the lineage later stages carry: the source and its
content hash, rows in / kept / dropped by reason, every setting, and the tokenizer (with
hashes of its vocabulary and chat template), so a trainer can tell whether its tokenizer
is the one the labels were made with. Output is written beside the target and renamed into
place, so an interrupted run leaves no half-written dataset behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import WorkbenchError
from ..fsutil import built_aside
from .clean import split_indices
from .issues import Issue
from .pipeline import PassResult, plan, run_pass
from .readers import ProgressFn
from .sources import Source, open_source
from .stats import Histogram, LengthStats, histogram, length_stats
from .tokenizer import load_tokenizer, tokenizer_info
from .write import write_hf, write_jsonl

if TYPE_CHECKING:
    from ...config.data import PrepareDataRecipe

MANIFEST = "manifest.json"
MANIFEST_KIND = "slmw.prepared-dataset"


@dataclass(frozen=True)
class PrepareResult:
    output: Path | None
    """The folder written (None for a dry run such as ``slmw data stats``)."""
    manifest: dict[str, Any]
    rows_in: int
    train_rows: int
    eval_rows: int
    dropped: dict[str, int]
    stats: LengthStats
    histogram: Histogram
    issues: list[Issue]


def content_hash(source: Source, progress: ProgressFn | None = None) -> str | None:
    """sha256 of a file, or of a folder's files (names and bytes, in name order); None for the hub."""
    if source.path is None:
        return None
    files = [source.path] if source.path.is_file() else sorted(p for p in source.path.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    total, done = float(sum(p.stat().st_size for p in files)), 0
    for path in files:
        if source.path.is_dir():
            digest.update(str(path.relative_to(source.path)).encode() + b"\0")
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                done += len(chunk)
                if progress and done % (64 << 20) < (1 << 20):
                    progress("hashing", done, total, "bytes")
    return digest.hexdigest()


def _check_output(recipe: PrepareDataRecipe) -> Path:
    out = Path(recipe.output).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not recipe.overwrite:
        raise WorkbenchError(f"{out} already exists and is not empty", hint="choose another folder, or overwrite it (--overwrite)")
    return out


def scan(recipe: PrepareDataRecipe, *, keep: bool, on_progress: ProgressFn | None = None,
         check_cancelled: Callable[[], None] | None = None) -> tuple[PassResult, Any]:
    """The checked, deduplicated, tokenized rows of ``recipe.source`` (no files written)."""
    source = open_source(recipe.source, split=recipe.split)
    the_plan = plan(source, format=recipe.format, columns=recipe.columns, roles=recipe.roles, template=recipe.template)
    tokenizer = load_tokenizer(recipe.model, recipe.chat_template)
    result = run_pass(the_plan, tokenizer=tokenizer, train_on=recipe.train_on, max_length=recipe.max_length,
                      min_tokens=recipe.min_tokens, dedupe=recipe.dedupe, keep=keep,
                      abort_on_error=recipe.on_error == "abort", on_progress=on_progress, check_cancelled=check_cancelled)
    return result, tokenizer


def _manifest(recipe: PrepareDataRecipe, result: PassResult, tokenizer: Any, sha: str | None,
              train: int, eval_: int, stats: LengthStats, hist: Histogram) -> dict[str, Any]:
    from ... import __version__

    p = result.plan
    src = p.source
    return {
        "kind": MANIFEST_KIND,
        "version": 1,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "workbench": __version__,
        "source": {"spec": src.spec, "kind": src.kind, "path": str(src.path.resolve()) if src.path else None,
                   "bytes": src.size, "sha256": sha, "split": src.split},
        "format": p.spec.as_dict() if p.spec else None,
        "template": p.template.source if p.template else "chat",
        "tokenizer": tokenizer_info(tokenizer, recipe.model),
        "settings": recipe.model_dump(mode="json", exclude={"stage", "source", "output"}),
        "rows": {"in": result.rows_in, "kept": train + eval_, "train": train, "eval": eval_,
                 "dropped": dict(sorted(result.dropped.items()))},
        "issues": {"counts": dict(sorted(result.log.counts.items())),
                   "first": [i.as_dict() for i in result.log.kept[:50]]},
        "stats": stats.as_dict(),
        "histogram": hist.as_dict(),
        "files": {"format": recipe.output_format, "train": "train", "eval": "eval" if eval_ else None},
    }


def prepare_dataset(recipe: PrepareDataRecipe, *, on_progress: ProgressFn | None = None,
                    check_cancelled: Callable[[], None] | None = None, write: bool = True) -> PrepareResult:
    """Run the whole pipeline; with ``write=False`` it is a dry run that only measures."""
    out = _check_output(recipe) if write else None
    result, tokenizer = scan(recipe, keep=write, on_progress=on_progress, check_cancelled=check_cancelled)
    stats = length_stats(result.lengths, result.trained)
    hist = histogram(result.lengths)
    n_kept = len(result.lengths)
    train_idx, eval_idx = split_indices(n_kept, recipe.eval_fraction, recipe.seed)
    sha = content_hash(result.plan.source, on_progress) if write else None
    manifest = _manifest(recipe, result, tokenizer, sha, len(train_idx), len(eval_idx), stats, hist)
    if out is not None:
        if check_cancelled:
            check_cancelled()
        with built_aside(out, "writing the prepared dataset") as tmp:
            splits = {"train": [result.kept[i] for i in train_idx], "eval": [result.kept[i] for i in eval_idx]}
            writer = write_hf if recipe.output_format == "hf" else write_jsonl
            writer(tmp, splits, on_progress)
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return PrepareResult(out, manifest, result.rows_in, len(train_idx), len(eval_idx),
                         dict(result.dropped), stats, hist, list(result.log.kept))


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkbenchError(f"{folder} is not a prepared dataset (no {MANIFEST})", hint="run `slmw data prepare` first") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise WorkbenchError(f"{path}: unreadable ({exc})") from None
    if data.get("kind") != MANIFEST_KIND:
        raise WorkbenchError(f"{path}: not a workbench dataset manifest")
    return data
