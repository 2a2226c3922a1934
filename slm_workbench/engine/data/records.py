"""Records of a held-out or calibration file, and each rendered as the model sees it in training.

Shared by the comparison (perplexity text, ``compare/evalset.py``) and the calibrated int4
export (``export/calibrated.py``), which must not depend on each other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError


def read_records(path: Path, splits: tuple[str, ...] = ("eval", "test", "validation")) -> list[dict[str, Any]]:
    """Records of a prepared dataset folder (its first split of ``splits``), a JSONL/JSON file."""
    if path.is_dir():
        for name in (f"{split}.jsonl" for split in splits):
            if (path / name).is_file():
                return read_records(path / name, splits)
        if (path / "dataset_dict.json").is_file():
            import datasets

            dd = datasets.load_from_disk(str(path))
            for split in splits:
                if split in dd:
                    keep = [c for c in ("messages", "prompt", "completion", "text") if c in dd[split].column_names]
                    return dd[split].select_columns(keep).to_list()
            raise WorkbenchError(f"{path}: the prepared dataset has no {' or '.join(splits)} split",
                                 hint="prepare it with eval_fraction > 0, or pass a JSONL or text file")
        raise WorkbenchError(f"{path}: not a prepared dataset (no eval.jsonl or dataset_dict.json)")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                raise WorkbenchError(f"{path}:{n}: not valid JSON ({exc})") from None
    return records


def chat_text(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> str:
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
    text = "\n".join(m["content"] for m in messages)
    return text + ("\n" if generation_prompt else "")


def render_record(tokenizer: Any, record: dict[str, Any]) -> str:
    """The whole record as the model sees it (perplexity text)."""
    if record.get("messages"):
        messages = [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
        return chat_text(tokenizer, messages, False)
    if "prompt" in record and "completion" in record:
        prompt = chat_text(tokenizer, [{"role": "user", "content": str(record["prompt"])}], True)
        return prompt + str(record["completion"])
    if "text" in record:
        return str(record["text"])
    raise WorkbenchError(f"an eval record has none of messages, prompt/completion, text: keys {sorted(record)[:6]}")
