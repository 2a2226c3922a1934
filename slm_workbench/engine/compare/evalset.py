"""The token ids every variant is measured on, computed once with the source's tokenizer.

Variants are fed ids, never text, so the torch reference and every ONNX variant see the
same tokens (a variant's own tokenizer cannot make a difference to the numbers). Three
parts, saved as ``evalset.json`` in the run directory:

- ``ppl_ids``: the held-out text for perplexity: our own prose (``heldout.txt``, ~2,200
  tokens with SmolLM2's tokenizer) or, given ``--eval``, the rendered examples of a prepared
  dataset's eval split / a JSONL / a text file, cut to ``perplexity_tokens``;
- ``prompt_ids``: one chat prompt, decoded greedily for agreement and speed;
- ``tasks``: up to ``task_examples`` (prompt ids, reference answer) pairs from the eval
  data, scored by word-level F1 of the greedy answer (none without eval data).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError

HELDOUT_TEXT = Path(__file__).with_name("heldout.txt")
DEFAULT_PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."


@dataclass
class TaskExample:
    prompt_ids: list[int]
    reference: str


@dataclass
class EvalSet:
    name: str
    """Where the perplexity text came from (``heldout.txt`` or the eval data path)."""
    ppl_ids: list[int]
    prompt_ids: list[int]
    prompt: str
    tasks: list[TaskExample] = field(default_factory=list)
    eos_token_ids: list[int] = field(default_factory=list)

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self)) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> EvalSet:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["tasks"] = [TaskExample(**t) for t in data.get("tasks", [])]
        return cls(**data)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records of a prepared dataset folder (eval split), a JSONL/JSON file."""
    if path.is_dir():
        for name in ("eval.jsonl", "test.jsonl", "validation.jsonl"):
            if (path / name).is_file():
                return read_records(path / name)
        if (path / "dataset_dict.json").is_file():
            import datasets

            dd = datasets.load_from_disk(str(path))
            for split in ("eval", "test", "validation"):
                if split in dd:
                    keep = [c for c in ("messages", "prompt", "completion", "text") if c in dd[split].column_names]
                    return dd[split].select_columns(keep).to_list()
            raise WorkbenchError(f"{path}: the prepared dataset has no eval split",
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


def _chat(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> str:
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
    text = "\n".join(m["content"] for m in messages)
    return text + ("\n" if generation_prompt else "")


def _render(tokenizer: Any, record: dict[str, Any]) -> tuple[str, tuple[str, str] | None]:
    """(full text, (prompt text, reference answer) or None)."""
    if record.get("messages"):
        messages = [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
        task = None
        if messages[-1]["role"] == "assistant" and len(messages) > 1:
            task = (_chat(tokenizer, messages[:-1], True), messages[-1]["content"])
        return _chat(tokenizer, messages, False), task
    if "prompt" in record and "completion" in record:
        prompt = _chat(tokenizer, [{"role": "user", "content": str(record["prompt"])}], True)
        return prompt + str(record["completion"]), (prompt, str(record["completion"]))
    if "text" in record:
        return str(record["text"]), None
    raise WorkbenchError(f"an eval record has none of messages, prompt/completion, text: keys {sorted(record)[:6]}")


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def build_evalset(
    tokenizer_folder: Path,
    eval_data: str | Path | None = None,
    *,
    perplexity_tokens: int = 2048,
    task_examples: int = 16,
    prompt: str | None = None,
) -> EvalSet:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_folder))
    prompt = prompt or DEFAULT_PROMPT
    prompt_ids = _ids(tokenizer, _chat(tokenizer, [{"role": "user", "content": prompt}], True))
    tasks: list[TaskExample] = []
    if eval_data is None:
        name = HELDOUT_TEXT.name
        ppl_ids = _ids(tokenizer, HELDOUT_TEXT.read_text(encoding="utf-8"))
    else:
        path = Path(eval_data).expanduser()
        if not path.exists():
            raise WorkbenchError(f"no such eval data: {path}")
        name = str(path)
        if path.is_file() and path.suffix not in (".jsonl", ".json"):
            ppl_ids = _ids(tokenizer, path.read_text(encoding="utf-8"))
        else:
            ppl_ids = []
            for record in read_records(path):
                full, task = _render(tokenizer, record)
                if len(ppl_ids) < perplexity_tokens:
                    ppl_ids += _ids(tokenizer, full)
                if task is not None and len(tasks) < task_examples:
                    tasks.append(TaskExample(_ids(tokenizer, task[0]), task[1]))
                if len(ppl_ids) >= perplexity_tokens and len(tasks) >= task_examples:
                    break
    ppl_ids = ppl_ids[:perplexity_tokens]
    if len(ppl_ids) < 2:
        raise WorkbenchError(f"the eval text {name} has fewer than 2 tokens")
    eos = tokenizer.eos_token_id
    return EvalSet(name, ppl_ids, prompt_ids, prompt, tasks, [eos] if isinstance(eos, int) else list(eos or []))
