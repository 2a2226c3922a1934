"""The smoke test: the package answers the check prompts through Foundry Local itself, and its
greedy tokens are compared with the workbench's own answer on the same folder.

The workbench's answer comes from ``OnnxGenaiBackend`` (``onnxruntime_genai``) in this process;
Foundry's from the SDK (``onnxruntime-genai-core``) in its own interpreter (``sdk``).
Both answer one user turn greedily, each rendering the prompt with the folder's chat template.
Both texts are tokenized by the package's tokenizer and compared id by id: ``identical``, or
the first differing token with both texts.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...chat.types import GenParams, Message
from ...errors import WorkbenchError
from . import sdk

SMOKE_FILE = "smoke.json"


@dataclass
class PromptResult:
    prompt: str
    foundry_text: str
    workbench_text: str
    identical: bool
    first_difference: dict[str, Any] | None = None
    """``index`` (token position), ``foundry`` and ``workbench`` (that token's text on each side)."""
    foundry_prompt_tokens: int | None = None
    workbench_prompt_tokens: int | None = None
    foundry_s: float | None = None
    """Seconds each side took to answer (Foundry: its ``ChatSession`` request; workbench: its backend)."""
    workbench_s: float | None = None


@dataclass
class SmokeResult:
    verdict: str
    """``identical``, ``differs``, ``skipped`` (no SDK here: ``reason`` says why) or ``failed``."""
    reason: str = ""
    sdk: str | None = None
    python: str | None = None
    model_id: str | None = None
    foundry_load_s: float | None = None
    """Seconds Foundry Local took to load the registered package (``model.load()``)."""
    prompts: list[PromptResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n", encoding="utf-8")


def read_smoke(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def compare_answers(encode: Any, decode: Any, prompt: str, foundry: str, workbench: str) -> PromptResult:
    a, b = encode(foundry), encode(workbench)
    k = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
    if k is None and len(a) != len(b):
        k = min(len(a), len(b))
    if k is None:
        return PromptResult(prompt, foundry, workbench, True)
    token = lambda ids: decode(ids[k:k + 1]) if k < len(ids) else "(end)"  # noqa: E731
    return PromptResult(prompt, foundry, workbench, False, {"index": k, "foundry": token(a), "workbench": token(b)})


def workbench_answers(package: Path, prompts: list[str], max_new_tokens: int) -> tuple[list[tuple[str, int, float]], Any]:
    """Each prompt's greedy answer, prompt length and seconds from the workbench's backend, and the backend
    (for its tokenizer)."""
    from ...chat.og_backend import OnnxGenaiBackend

    backend = OnnxGenaiBackend(package, label=package.name)
    params = GenParams(max_new_tokens=max_new_tokens)
    out = []
    for prompt in prompts:
        messages = [Message(role="user", content=prompt)]
        start = time.perf_counter()
        text = "".join(delta.text for delta in backend.stream(messages, params))
        out.append((text, len(backend.prompt_ids(messages, params)), time.perf_counter() - start))
    return out, backend


def smoke_test(package: Path, *, prompts: list[str], max_new_tokens: int, model_id: str,
               python: str | None) -> SmokeResult:
    if python is None:
        raise AssertionError("smoke_test needs the SDK's interpreter")
    answers, backend = workbench_answers(package, prompts, max_new_tokens)
    try:
        reply = sdk.call(python, {"action": "smoke", "package": str(package), "model_id": model_id,
                                          "prompts": prompts, "max_new_tokens": max_new_tokens})
        if not reply.get("ok"):
            return SmokeResult("failed", reason=str(reply.get("error")), python=python, model_id=model_id)
        result = SmokeResult("identical", sdk=reply.get("sdk"), python=python, model_id=reply.get("model_id"),
                             foundry_load_s=reply.get("load_s"))
        decode = lambda ids: backend.tokenizer.decode(ids)  # noqa: E731
        for (text, n_prompt, seconds), got in zip(answers, reply["answers"]):
            found = compare_answers(backend.encode, decode, got["prompt"], got["text"], text)
            found.foundry_prompt_tokens, found.workbench_prompt_tokens = got.get("prompt_tokens"), n_prompt
            found.foundry_s, found.workbench_s = got.get("seconds"), seconds
            result.prompts.append(found)
    finally:
        backend.close()
    if not all(p.identical for p in result.prompts):
        result.verdict = "differs"
    return result


def describe_result(result: SmokeResult) -> str:
    """One line: the verdict, and for a difference the first differing token and both texts."""
    if result.verdict in ("skipped", "failed"):
        return f"smoke test {result.verdict}: {result.reason}"
    if result.verdict == "identical":
        return f"smoke test: Foundry Local (SDK {result.sdk}) answered {len(result.prompts)} prompt(s) with the same greedy tokens as the workbench"
    bad = next(p for p in result.prompts if not p.identical)
    d = bad.first_difference or {}
    return (f"smoke test: {bad.prompt!r} differs at token {d.get('index')} (Foundry {d.get('foundry')!r}, workbench "
            f"{d.get('workbench')!r}); Foundry: {bad.foundry_text!r} | workbench: {bad.workbench_text!r}")


def require_python(configured: str | None, what: str) -> str:
    python, why = sdk.find_python(configured)
    if python is None:
        raise WorkbenchError(f"{what} needs the Foundry Local SDK: {why}", hint=sdk.INSTALL_HINT)
    return python
