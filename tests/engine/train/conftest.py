"""Training fixtures: a small, learnable chat dataset and a recipe factory for the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.config.train import TrainRecipe

CITIES = ["Oslo", "Lima", "Pune", "Kyiv", "Doha", "Bern", "Riga", "Baku"]


@pytest.fixture
def tiny_chat_data(tmp_path: Path) -> Path:
    """48 short conversations with one fixed answer pattern: easy to learn, so loss must fall."""
    path = tmp_path / "chat.jsonl"
    rows = []
    for i in range(48):
        city = CITIES[i % len(CITIES)]
        rows.append({"messages": [
            {"role": "user", "content": f"Where does user {i} live?"},
            {"role": "assistant", "content": f"User {i} lives in {city}."},
        ]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def tiny_recipe(tiny_model_dir: Path, tiny_chat_data: Path):
    def make(**overrides) -> TrainRecipe:
        base = dict(
            model=str(tiny_model_dir), data=str(tiny_chat_data), method="lora", learning_rate=5e-3,
            lora={"r": 8, "alpha": 16, "dropout": 0.0}, max_steps=24, batch_size=4, max_length=64,
            logging_steps=1, save_steps=8, eval_steps=8, threads=1, eval_fraction=0.1, warmup_ratio=0.1,
        )
        base.update(overrides)
        return TrainRecipe(**base)

    return make
