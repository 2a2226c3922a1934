"""The training and eval splits of a run.

``data`` in the recipe is either a prepared dataset (a folder with ``manifest.json``, from
``slmw data prepare``) or a raw source, which the job prepares first into ``<run>/data``
with the same engine and the base model's tokenizer. Either way the trainer sees
``input_ids`` and ``labels`` computed by one function (``engine.data.encode``), so the
loss mask shown in the Data pane is the one trained.

A prepared dataset made with another tokenizer is refused before any weight is loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...config.train import TrainRecipe
from ..errors import WorkbenchError

MANIFEST = "manifest.json"


@dataclass
class TrainingData:
    folder: Path
    manifest: dict[str, Any]
    train: Any
    eval: Any | None

    @property
    def train_tokens(self) -> int:
        return int(sum(self.train["n_tokens"]))


def is_prepared(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


def prepare_raw(recipe: TrainRecipe, out: Path, on_progress: Callable[..., None], check_cancelled: Callable[[], None]) -> Path:
    from ...config.data import PrepareDataRecipe
    from ..data import prepare_dataset

    prep = PrepareDataRecipe(
        source=recipe.data, output=str(out), model=recipe.model, chat_template=recipe.chat_template,
        train_on=recipe.train_on,
        max_length=recipe.max_length, eval_fraction=recipe.eval_fraction, seed=recipe.seed,
        output_format="hf", overwrite=True,
    )
    prepare_dataset(prep, on_progress=on_progress, check_cancelled=check_cancelled)
    return out


def check_tokenizer(manifest: dict[str, Any], tokenizer: Any, folder: Path) -> None:
    """Refuse a dataset tokenized differently from the model being trained."""
    from ..data.tokenizer import tokenizer_info

    recorded = manifest.get("tokenizer") or {}
    current = tokenizer_info(tokenizer, None)
    for key, what in (("tokenizer_json_sha256", "tokenizer"), ("chat_template_sha256", "chat template"),
                      ("vocab_size", "vocabulary size")):
        if recorded.get(key) and current.get(key) and recorded[key] != current[key]:
            raise WorkbenchError(
                f"{folder} was prepared with a different {what} than the model's ({recorded.get('model')})",
                hint=f"prepare it again for this model: slmw data prepare {manifest.get('source', {}).get('spec', 'SOURCE')} "
                f"--model MODEL -o OUT",
            )


def load_training_data(folder: Path, tokenizer: Any, max_length: int) -> TrainingData:
    from datasets import load_from_disk

    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    check_tokenizer(manifest, tokenizer, folder)
    if (manifest.get("files") or {}).get("format") not in (None, "hf"):
        raise WorkbenchError(f"{folder} holds JSONL; training reads the datasets format",
                             hint="prepare it with --output-format hf (the default)")
    splits = load_from_disk(str(folder))
    if "train" not in splits or len(splits["train"]) == 0:
        raise WorkbenchError(f"{folder} has no training rows")
    train = _keep_columns(splits["train"])
    evals = _keep_columns(splits["eval"]) if "eval" in splits and len(splits["eval"]) else None
    longest = max(train["n_tokens"])
    if longest > max_length:
        n_long = sum(1 for n in train["n_tokens"] if n > max_length)
        print(f"[train] {n_long} training rows exceed max_length={max_length} tokens and will be truncated", flush=True)
    return TrainingData(folder, manifest, train, evals)


def _keep_columns(split: Any) -> Any:
    drop = [c for c in split.column_names if c not in ("input_ids", "labels", "n_tokens")]
    return split.remove_columns(drop)
