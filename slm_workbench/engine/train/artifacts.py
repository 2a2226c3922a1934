"""What a finished training run leaves: ecosystem-native folders plus their lineage.

- ``artifacts/adapter/``  PEFT ``save_pretrained`` (LoRA/QLoRA) + tokenizer
- ``artifacts/model/``    the full fine-tuned model (``method: full``)
- ``artifacts/merged/``   the adapter merged into its base (``merge: true``)
- ``README.md`` in each, a model card: base, data (source hash, rows), recipe, final metrics
- ``artifacts/lineage.json``: data hash -> run -> adapter/merged, read by later stages
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from ...config.train import TrainRecipe
from ..runs.context import RunContext
from ..runs.run import ADAPTER, FULL_MODEL, LINEAGE, MERGED


def write_artifacts(recipe: TrainRecipe, ctx: RunContext, trainer: Any, loaded: Any, data: Any, base: Path) -> None:
    out = ctx.artifacts_dir
    final = final_metrics(trainer, data)
    if final:
        ctx.metrics({"step": trainer.state.global_step, **final})
    model = trainer.model
    produced: dict[str, str] = {}
    if recipe.method == "full":
        produced["model"] = str(save_folder(model, loaded.tokenizer, out / FULL_MODEL))
    else:
        produced["adapter"] = str(save_folder(model, loaded.tokenizer, out / ADAPTER))
        if recipe.merge:
            ctx.progress("merging the adapter into the base", 0, None)
            merged = model.merge_and_unload()
            produced["merged"] = str(save_folder(merged, loaded.tokenizer, out / MERGED))
    lineage = {
        "run": ctx.run_dir.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "base_model": {"spec": recipe.model, "folder": str(base)},
        "chat_template": chat_template_of(recipe, base),
        "data": {"folder": str(data.folder), "source": data.manifest.get("source"), "rows": data.manifest.get("rows")},
        "method": recipe.method,
        "steps": trainer.state.global_step,
        "final_metrics": final,
        "artifacts": produced,
    }
    (out / LINEAGE).write_text(json.dumps(lineage, indent=2) + "\n", encoding="utf-8")
    for name, path in produced.items():
        write_model_card(Path(path), recipe, lineage)
        ctx.artifact(name, Path(path), f"{name} of run {ctx.run_dir.name}")


def save_folder(model: Any, tokenizer: Any, folder: Path) -> Path:
    """The model (or adapter) and its tokenizer, whose chat template it was trained with; a whole model's
    generation config stops on that template's end of turn too."""
    from ..models.chat_template import add_stop_ids

    if getattr(model, "generation_config", None) is not None:
        add_stop_ids(model.generation_config, tokenizer)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def chat_template_of(recipe: TrainRecipe, base: Path) -> str:
    """The template the run trained with: the recipe's choice, else what its base model's folder records."""
    if recipe.chat_template:
        from ..models.chat_template import load_template

        return load_template(recipe.chat_template).name
    from ..models.info import folder_template

    return folder_template(base)


def final_metrics(trainer: Any, data: Any) -> dict[str, float]:
    history = trainer.state.log_history
    losses = [h["loss"] for h in history if "loss" in h]
    out: dict[str, float] = {}
    if losses:
        out["final_train_loss"] = float(losses[-1])
    if data.eval is not None:
        result = trainer.evaluate()
        out["final_eval_loss"] = float(result["eval_loss"])
    return out


def write_model_card(folder: Path, recipe: TrainRecipe, lineage: dict[str, Any]) -> None:
    source = (lineage["data"].get("source") or {})
    rows = lineage["data"].get("rows") or {}
    metrics = "\n".join(f"- {k}: {v:.4f}" for k, v in lineage["final_metrics"].items()) or "- (none logged)"
    card = f"""---
base_model: {recipe.model}
library_name: {"peft" if recipe.method != "full" else "transformers"}
tags: [slm-workbench, {recipe.method}]
---

# {folder.name} of run {lineage["run"]}

Fine-tuned with SLM Workbench ({recipe.method}) from `{recipe.model}` for {lineage["steps"]} steps.

## Data
- source: `{source.get("spec")}` (sha256 `{source.get("sha256")}`)
- rows: {rows.get("train")} train, {rows.get("eval")} eval (of {rows.get("in")} read)
- prepared folder: `{lineage["data"]["folder"]}`

## Final metrics
{metrics}

## Recipe
```yaml
{yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False).rstrip()}
```
"""
    (folder / "README.md").write_text(card, encoding="utf-8")
