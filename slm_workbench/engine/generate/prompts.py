"""The prompts a teacher answers: a dataset read through the Data engine, or a text file.

A dataset may be any file the Data pane reads (messages, prompt/completion, Alpaca, ShareGPT;
JSONL, JSON, CSV, Parquet), a prepared folder (its train split) or ``slmw:demo``. Each
conversation up to its last user turn is the prompt; the assistant's answer to that turn,
when the row has one, is the ``reference`` a checker sees. A conversation of user turns
alone is a prompt too (the Data engine's "no assistant turn" is what a prompt file is).
A ``.txt`` file holds one prompt per line (blank lines skipped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError


@dataclass(frozen=True)
class Prompt:
    index: int
    messages: list[dict[str, str]]
    """The turns up to and including the last user turn."""
    reference: str | None = None


@dataclass
class PromptSet:
    source: str
    sha256: str | None
    prompts: list[Prompt] = field(default_factory=list)
    skipped: int = 0
    """Rows read but without a user turn (plain text)."""
    invalid: int = 0
    first_issue: str | None = None


def split_prompt(messages: list[dict[str, str]]) -> tuple[list[dict[str, str]], str | None] | None:
    """(the turns up to the last user turn, the assistant's answer to it or None); None without a user turn."""
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
    if last_user is None:
        return None
    after = messages[last_user + 1:]
    reference = after[0]["content"] if after and after[0]["role"] == "assistant" else None
    return messages[: last_user + 1], reference


def _text_prompts(path: Path, spec: str, max_prompts: int | None) -> PromptSet:
    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig")
    except OSError as exc:
        raise WorkbenchError(f"{spec}: cannot read the prompts file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise WorkbenchError(f"{spec}: the prompts file is not UTF-8 text") from None
    import hashlib

    out = PromptSet(spec, hashlib.sha256(data).hexdigest())
    for line in text.splitlines():
        if line.strip():
            out.prompts.append(Prompt(len(out.prompts), [{"role": "user", "content": line.strip()}]))
            if max_prompts and len(out.prompts) >= max_prompts:
                break
    return out


def _normalised(raw: Any, settled: Any, spec: str) -> tuple[dict[str, Any] | None, str | None]:
    """The canonical record of a row, accepting a conversation that has no assistant turn yet."""
    from ..data.checks import normalise

    record, issues = normalise(raw.value, settled, raw.loc, spec)
    if record is not None:
        return record, None
    errors = [i for i in issues if i.severity == "error"]
    col = settled.column("messages") if settled.name == "messages" else None
    if errors and all(i.code == "no_assistant" for i in errors) and col and isinstance(raw.value, dict):
        # a prompts file: checked as a conversation with a placeholder answer, then without it
        placeholder = {settled.column("role"): "assistant", settled.column("content"): "."}
        value = {**raw.value, col: [*raw.value[col], placeholder]}
        record, _ = normalise(value, settled, raw.loc, spec)
        if record is not None:
            return {"messages": record["messages"][:-1]}, None
    return None, (errors or issues)[0].headline if (errors or issues) else f"{spec}: row {raw.loc.row}: unreadable"


def load_prompts(spec: str, max_prompts: int | None = None) -> PromptSet:
    """The first ``max_prompts`` prompts of ``spec``; a ``WorkbenchError`` naming it when there are none."""
    from ..data.pipeline import iter_rows, plan
    from ..data.prepare import content_hash
    from ..data.sources import DEMO_ALIASES, open_source

    path = Path(spec).expanduser()
    if spec not in DEMO_ALIASES and not path.exists():
        raise WorkbenchError(f"no such prompts file or dataset: {spec}")
    if path.is_file() and path.suffix.lower() == ".txt":
        out = _text_prompts(path, spec, max_prompts)
    else:
        source = open_source(spec)
        settled = plan(source)
        out = PromptSet(spec, content_hash(source))
        for raw in iter_rows(source) if settled.spec is not None else []:
            if raw.issue is not None:
                out.invalid += 1
                out.first_issue = out.first_issue or raw.issue.headline
                continue
            record, issue = _normalised(raw, settled.spec, spec)
            if record is None:
                out.invalid += 1
                out.first_issue = out.first_issue or issue
                continue
            pair = split_prompt(record["messages"]) if "messages" in record else None
            if pair is None:
                out.skipped += 1
                continue
            out.prompts.append(Prompt(len(out.prompts), *pair))
            if max_prompts and len(out.prompts) >= max_prompts:
                break
    if not out.prompts:
        why = f"; the first bad row: {out.first_issue}" if out.first_issue else ""
        raise WorkbenchError(f"{spec}: no prompts in it ({out.skipped} rows without a user turn, "
                             f"{out.invalid} unreadable){why}",
                             hint="give a dataset of conversations with a user turn, or a .txt file with one prompt per line")
    return out
