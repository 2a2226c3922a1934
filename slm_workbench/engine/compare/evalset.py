"""The token ids every variant is measured on, computed once with the source's tokenizer.

Variants are fed ids, never text, so the torch reference and every ONNX variant see the
same tokens (a variant's own tokenizer cannot make a difference to the numbers). Three
parts, saved as ``evalset.json`` in the run directory:

- ``ppl_ids``: the held-out text for perplexity: our own prose (``heldout.txt``, ~2,200
  tokens with SmolLM2's tokenizer) or, given ``--eval``, the rendered examples of a prepared
  dataset's eval split / a JSONL / a text file, cut to ``perplexity_tokens``;
- ``prompt_ids``: one chat prompt, decoded greedily for speed (and agreement);
- ``agreement_prompts``: a set of short chat prompts (the one above among them), each decoded
  greedily once, for agreement and "degenerate output": one prompt is not enough (the base
  model's int8 variant loops on "What is the capital of France?" and matches fp32 on three
  of four other prompts);
- ``tasks``: up to ``task_examples`` held-out examples (prompt ids, reference answer) read
  by the evaluator (``engine/eval``), scored by its task score (per-field accuracy of a JSON
  reference, word F1 otherwise) with a bootstrap interval (none without eval data).

A run's eval split can be too small for a verdict (the smoke LoRA holds out 17 of the demo's
575 rows). When it yields fewer than ``MIN_TASK_EXAMPLES`` (64) examples and the run trained on
a shipped dataset that has a held-out companion (``slmw:demo`` -> ``slmw:demo-eval``: 64
extraction examples from names and cities the training file never uses), the task is scored
on the companion instead (``heldout_tasks``), any example whose prompt is in the run's training
split dropped; ``task_source`` and ``task_note`` say so in the report and the pane.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..data.records import chat_text, read_records, render_record
from ..errors import WorkbenchError
from .report import MIN_TASK_EXAMPLES

HELDOUT_TEXT = Path(__file__).with_name("heldout.txt")
DEFAULT_PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."
AGREEMENT_PROMPTS = (
    "What is the capital of France?",
    "Explain in two sentences why the sky is blue.",
    "Give me three tips for sleeping better.",
    "What is 17 + 25?",
)
"""Asked of every variant besides ``prompt``: short, different in kind, answered in a few dozen tokens."""


@dataclass
class TaskExample:
    prompt_ids: list[int]
    reference: str
    id: str = ""
    """The evaluator's example id (``slmw eval`` on the same data pairs with it)."""


@dataclass
class EvalSet:
    name: str
    """Where the perplexity text came from (``heldout.txt`` or the eval data path)."""
    ppl_ids: list[int]
    prompt_ids: list[int]
    prompt: str
    tasks: list[TaskExample] = field(default_factory=list)
    eos_token_ids: list[int] = field(default_factory=list)
    agreement_prompts: list[list[int]] = field(default_factory=list)
    """Token ids of every prompt agreement is judged on (``prompt_ids`` first)."""
    agreement_texts: list[str] = field(default_factory=list)
    task_source: str = ""
    """Where the task examples came from when not from the perplexity data (``slmw:demo-eval``)."""
    task_note: str = ""
    """Why they came from there, in a sentence the report and the pane show."""

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self)) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> EvalSet:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["tasks"] = [TaskExample(**t) for t in data.get("tasks", [])]
        data.setdefault("agreement_prompts", [data["prompt_ids"]])
        data.setdefault("agreement_texts", [data.get("prompt", "")])
        return cls(**data)


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def task_examples_of(tokenizer: Any, eval_data: Path, limit: int) -> list[TaskExample]:
    """The evaluator's examples of ``eval_data`` (the same ones ``slmw eval`` scores), as token ids."""
    from ..eval.examples import load_examples

    if limit <= 0:
        return []
    try:
        examples = load_examples(eval_data, limit).examples
    except WorkbenchError:
        return []  # text without references: perplexity only
    return [TaskExample(_ids(tokenizer, chat_text(tokenizer, e.messages, True)), e.reference, e.id) for e in examples]


SHIPPED_HELDOUT = {"slmw:demo": "slmw:demo-eval"}
"""A shipped training dataset -> its shipped held-out companion (never in the training file)."""


def data_path(spec: str | Path) -> Path:
    """A data argument as a path: the shipped demo files by their ``slmw:`` names."""
    from ...demo import DEMO_FILES

    return DEMO_FILES[str(spec)] if str(spec) in DEMO_FILES else Path(spec).expanduser()


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def shipped_source(prepared: Path) -> str | None:
    """The shipped dataset (``slmw:demo``) a prepared folder was made from, by its manifest; else None."""
    from ...demo import DEMO_FILES

    try:
        source = json.loads((prepared / "manifest.json").read_text(encoding="utf-8")).get("source") or {}
    except (OSError, ValueError):
        return None
    for name in SHIPPED_HELDOUT:
        shipped = DEMO_FILES[name]
        if source.get("spec") == name or (source.get("sha256") and source.get("sha256") == _sha256(shipped)):
            return name
    return None


def _prompt_key(messages: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(" ".join(str(m.get("content", "")).split()) for m in messages if m.get("role") == "user")


def training_prompts(prepared: Path) -> set[tuple[str, ...]]:
    """The user turns of every record in a prepared dataset's train split."""
    keys = set()
    for record in read_records(prepared, splits=("train",)):
        messages = record.get("messages") or []
        if not messages and "prompt" in record:
            messages = [{"role": "user", "content": record["prompt"]}]
        keys.add(_prompt_key(messages))
    return keys


def heldout_tasks(evalset: EvalSet, tokenizer_folder: Path, prepared: Path | None, task_examples: int) -> EvalSet:
    """Score the task on the shipped held-out companion of the run's training data when the run's eval split
    gives fewer than ``MIN_TASK_EXAMPLES`` examples (and the companion gives more); unchanged otherwise."""
    from ..eval.examples import load_examples

    have = len(evalset.tasks)
    if prepared is None or task_examples < MIN_TASK_EXAMPLES or have >= MIN_TASK_EXAMPLES:
        return evalset
    trained_on = shipped_source(prepared)
    if trained_on is None:
        return evalset
    companion = SHIPPED_HELDOUT[trained_on]
    seen = training_prompts(prepared)
    examples = load_examples(data_path(companion), task_examples).examples
    kept = [e for e in examples if _prompt_key(e.messages) not in seen]
    if len(kept) <= have:
        return evalset
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_folder))
    evalset.tasks = [TaskExample(_ids(tokenizer, chat_text(tokenizer, e.messages, True)), e.reference, e.id)
                     for e in kept]
    dropped = len(examples) - len(kept)
    evalset.task_source = companion
    evalset.task_note = (f"Task judged on {len(kept)} examples of {companion}, held out from {trained_on} (none of "
                         f"their prompts is in the run's training split"
                         + (f"; {dropped} that were are left out" if dropped else "")
                         + f"): the run's own eval split gives {have}, too few for a verdict.")
    return evalset


def build_evalset(
    tokenizer_folder: Path,
    eval_data: str | Path | None = None,
    *,
    perplexity_tokens: int = 2048,
    task_examples: int = 64,
    prompt: str | None = None,
) -> EvalSet:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_folder))
    prompt = prompt or DEFAULT_PROMPT
    texts = [prompt, *(p for p in AGREEMENT_PROMPTS if p != prompt)]
    agreement_ids = [_ids(tokenizer, chat_text(tokenizer, [{"role": "user", "content": t}], True)) for t in texts]
    prompt_ids = agreement_ids[0]
    tasks: list[TaskExample] = []
    if eval_data is None:
        name = HELDOUT_TEXT.name
        ppl_ids = _ids(tokenizer, HELDOUT_TEXT.read_text(encoding="utf-8"))
    else:
        path = data_path(eval_data)
        if not path.exists():
            raise WorkbenchError(f"no such eval data: {path}")
        name = str(path)
        if path.is_file() and path.suffix not in (".jsonl", ".json"):
            ppl_ids = _ids(tokenizer, path.read_text(encoding="utf-8"))
        else:
            ppl_ids = []
            for record in read_records(path):
                full = render_record(tokenizer, record)
                ppl_ids += _ids(tokenizer, full)
                if len(ppl_ids) >= perplexity_tokens:
                    break
            tasks = task_examples_of(tokenizer, path, task_examples)
    ppl_ids = ppl_ids[:perplexity_tokens]
    if len(ppl_ids) < 2:
        raise WorkbenchError(f"the eval text {name} has fewer than 2 tokens")
    eos = tokenizer.eos_token_id
    return EvalSet(name, ppl_ids, prompt_ids, prompt, tasks, [eos] if isinstance(eos, int) else list(eos or []),
                   agreement_ids, texts)
