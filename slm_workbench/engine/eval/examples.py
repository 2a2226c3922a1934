"""Held-out examples with a reference answer, read through the Data engine.

Any format the Data pane reads works (messages, prompt/completion, Alpaca, ShareGPT; JSONL,
JSON, CSV, Parquet, a prepared dataset folder). A conversation's last turn, from the
assistant, is the reference and the turns before it are the prompt; plain-text rows have no
reference and are counted, not scored. A prepared folder is read from its eval split.

Each example's ``id`` hashes its prompt and reference, so two evaluations of the same data
pair their examples whatever their order or limit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError

EVAL_SPLITS = ("eval", "test", "validation")


@dataclass(frozen=True)
class Example:
    index: int
    id: str
    messages: list[dict[str, str]]
    """The prompt: every turn before the reference."""
    reference: str


@dataclass
class ExampleSet:
    data: str
    examples: list[Example]
    without_reference: int = 0
    """Rows read but not scored: plain text, or a conversation not ending with the assistant."""
    invalid: int = 0
    first_issue: str | None = None


def example_id(messages: list[dict[str, str]], reference: str) -> str:
    text = json.dumps([messages, reference], ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=6).hexdigest()


def split_reference(record: dict[str, Any]) -> tuple[list[dict[str, str]], str] | None:
    """(prompt turns, reference) of a canonical record, or None when it has no reference."""
    messages = record.get("messages")
    if not messages:
        return None
    turns = [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
    if len(turns) < 2 or turns[-1]["role"] != "assistant" or not turns[-1]["content"].strip():
        return None
    prompt = turns[:-1]
    if not any(t["role"] == "user" for t in prompt):
        return None
    return prompt, turns[-1]["content"]


def _eval_split(path: Path) -> str:
    try:
        splits = json.loads((path / "dataset_dict.json").read_text(encoding="utf-8")).get("splits", [])
    except (OSError, ValueError):
        return "eval"
    found = next((s for s in EVAL_SPLITS if s in splits), None)
    if found is None:
        raise WorkbenchError(f"{path}: the dataset has no eval split (it has {', '.join(splits) or 'none'})",
                             hint="prepare it with eval_fraction > 0, or give a JSONL of held-out examples")
    return found


def load_examples(data: str | Path, max_examples: int | None = None) -> ExampleSet:
    """The first ``max_examples`` examples of ``data`` that have a reference answer."""
    from ..data.checks import normalise
    from ..data.pipeline import iter_rows, plan
    from ..data.sources import open_source

    spec = str(data)
    path = Path(spec).expanduser()
    split = _eval_split(path) if (path / "dataset_dict.json").is_file() else None
    source = open_source(spec, split=split)
    settled = plan(source)
    if settled.spec is None:
        raise WorkbenchError(f"{spec}: no readable rows to evaluate on")
    out = ExampleSet(spec, [])
    seen: dict[str, int] = {}
    for raw in iter_rows(source):
        if raw.issue is not None:
            out.invalid += 1
            out.first_issue = out.first_issue or raw.issue.headline
            continue
        record, issues = normalise(raw.value, settled.spec, raw.loc, spec)
        if record is None:
            out.invalid += 1
            errors = [i for i in issues if i.severity == "error"] or issues
            out.first_issue = out.first_issue or (errors[0].headline if errors else f"{spec}: row {raw.loc.row}: unreadable")
            continue
        pair = split_reference(record)
        if pair is None:
            out.without_reference += 1
            continue
        prompt, reference = pair
        key = example_id(prompt, reference)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:  # the same example twice: each scored, each its own id
            key = f"{key}-{seen[key]}"
        out.examples.append(Example(len(out.examples), key, prompt, reference))
        if max_examples and len(out.examples) >= max_examples:
            break
    if not out.examples:
        why = f"; the first bad row: {out.first_issue}" if out.first_issue else ""
        raise WorkbenchError(
            f"{spec}: no example with a reference answer ({out.without_reference} without one, {out.invalid} unreadable){why}",
            hint="each example needs a last turn from the assistant (messages) or a completion (prompt/completion)")
    return out
