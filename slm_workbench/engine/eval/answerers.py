"""What answers the examples: a local model (PyTorch or ONNX Runtime GenAI) or an endpoint.

Local targets are run through the comparison's measuring backends (``measure/backends.py``):
one loaded model gives both the greedy answer and the NLL of the reference, fed as token ids
from the target's own tokenizer and chat template. The reference's tokens are the ones the
template renders for the assistant turn, up to and including its end-of-turn token, so
perplexity measures what the model was trained to produce.

Endpoints answer through the Chat pane's OpenAI-compatible client, greedily (temperature 0),
with a timeout, retries with exponential backoff, and the key read from the environment
only. They give no token probabilities here, so no perplexity.

The evaluator asks for greedy answers; a teacher generating data (``engine/distill``) may ask
for sampled ones (``sampling``), and needs to know whether each answer finished (end of
sequence) or was cut off at ``max_new_tokens``, and, from an endpoint, how many requests it
spent against its budget.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import WorkbenchError

if TYPE_CHECKING:
    from ..measure.backends import Sampling

NLL_CHUNK = 512


@dataclass
class Answer:
    text: str
    tokens: int
    seconds: float
    finished: bool = True
    """The model ended the answer itself (end of sequence), rather than at ``max_new_tokens``."""


class RequestBudgetSpent(WorkbenchError):
    """An endpoint's request budget is used up (not retried: no request is made)."""


class Answerer(Protocol):
    kind: str
    label: str

    @property
    def scores_perplexity(self) -> bool: ...

    def answer(self, messages: list[dict[str, str]], max_new_tokens: int,
               sampling: Sampling | None = None) -> Answer: ...

    def reference_nll(self, messages: list[dict[str, str]], reference: str) -> tuple[float, int] | None: ...

    def close(self) -> None: ...


class LocalAnswerer:
    """A transformers folder (with an optional LoRA adapter) or an ONNX Runtime GenAI folder."""

    scores_perplexity = True

    def __init__(self, kind: str, folder: Path, *, label: str, adapter: Path | None = None, threads: int = 1) -> None:
        from transformers import AutoTokenizer

        from ..measure.backends import GenaiBackend, TorchBackend

        self.kind, self.label = kind, label
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        if not getattr(self.tokenizer, "chat_template", None):
            from ..models.chat_template import no_template

            raise no_template(label, "ask it the examples")
        self.backend: Any = (TorchBackend(folder, threads, adapter=adapter) if kind == "transformers"
                             else GenaiBackend(folder, threads))
        from ..models.chat_template import stop_ids

        self.eos = set(stop_ids(self.tokenizer))  # the EOS and the chat template's end of turn

    def _prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        return prompt_ids(self.tokenizer, messages)

    def answer(self, messages: list[dict[str, str]], max_new_tokens: int,
               sampling: Sampling | None = None) -> Answer:
        """Greedy without ``sampling`` (or at temperature 0), else sampled with its seed."""
        ids = self._prompt_ids(messages)
        room = self.backend.context_length - len(ids)
        if room < 1:
            raise WorkbenchError(f"the prompt has {len(ids)} tokens, the model's context is {self.backend.context_length}")
        start = time.perf_counter()
        sampled = sampling if sampling is not None and sampling.temperature > 0 else None
        decode = self.backend.decode(ids, min(max_new_tokens, room), stop_at_eos=True, sampling=sampled)
        tokens = [t for t in decode.tokens if t not in self.eos]
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        finished = bool(decode.tokens) and decode.tokens[-1] in self.eos
        return Answer(text.strip(), len(decode.tokens), time.perf_counter() - start, finished)

    def reference_ids(self, messages: list[dict[str, str]], reference: str) -> tuple[list[int], list[int]]:
        """(prompt ids, the reference's ids as the template renders the assistant turn)."""
        return reference_ids(self.tokenizer, self.eos, messages, reference)

    def reference_nll(self, messages: list[dict[str, str]], reference: str) -> tuple[float, int] | None:
        return reference_nll(self.backend, *self.reference_ids(messages, reference))

    def close(self) -> None:
        self.backend = None


def prompt_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """The chat prompt's token ids, generation prompt added, as the model is asked."""
    return list(tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True,
                                              return_dict=True)["input_ids"])


def reference_ids(tokenizer: Any, eos: set[int], messages: list[dict[str, str]],
                  reference: str) -> tuple[list[int], list[int]]:
    """(prompt ids, the reference's ids as the template renders the assistant turn, up to and including
    its end-of-turn token). Perplexity of answers is computed over these (``slmw eval``, the distill card)."""
    prompt = prompt_ids(tokenizer, messages)
    full = list(tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": reference}],
                                              tokenize=True, add_generation_prompt=False,
                                              return_dict=True)["input_ids"])
    if full[: len(prompt)] == prompt and len(full) > len(prompt):
        ref = full[len(prompt):]
        end = next((i for i, t in enumerate(ref) if t in eos), None)
        return prompt, ref[: end + 1] if end is not None else ref
    return prompt, list(tokenizer(reference, add_special_tokens=False)["input_ids"])


def reference_nll(backend: Any, prompt: list[int], ref: list[int]) -> tuple[float, int] | None:
    """(summed NLL of ``ref`` after ``prompt``, tokens scored) from a measuring backend; None when the
    context leaves no reference token."""
    ids = (prompt + ref)[: backend.context_length]
    scored = len(ids) - len(prompt)
    if scored < 1:
        return None
    nll = backend.nll(ids, NLL_CHUNK)
    return float(nll[-scored:].sum()), scored


class EndpointAnswerer:
    """An OpenAI-compatible endpoint, greedy unless asked to sample, with retries and backoff.

    ``requests`` counts the answer requests made (each retry is one); with ``max_requests`` set,
    an answer that would exceed it raises ``RequestBudgetSpent`` instead of asking."""

    kind = "http"
    scores_perplexity = False

    def __init__(self, url: str, *, model: str | None, api_key_env: str, timeout: float, retries: int,
                 sleep: Callable[[float], None] = time.sleep, max_requests: int | None = None) -> None:
        from ..chat.http_backend import HttpBackend

        self.retries, self.sleep = retries, sleep
        self.url = url
        self.max_requests, self.requests = max_requests, 0
        self.client = self._retry(lambda: HttpBackend(url, model=model, api_key_env=api_key_env, timeout=timeout))
        self.label = self.client.label

    def _retry(self, call: Callable[[], Any]) -> Any:
        from ..chat.http_backend import EndpointError

        for attempt in range(self.retries + 1):
            try:
                return call()
            except (EndpointError, TimeoutError, ConnectionError) as exc:
                if attempt == self.retries or not _worth_retrying(exc):
                    raise
                self.sleep(2.0 ** attempt)
        raise AssertionError("unreachable")

    def answer(self, messages: list[dict[str, str]], max_new_tokens: int,
               sampling: Sampling | None = None) -> Answer:
        """``finished`` is judged by the count: an answer of ``max_new_tokens`` tokens was cut off."""
        from ..chat.session import answer
        from ..chat.types import GenParams, Message

        sampled = sampling is not None and sampling.temperature > 0
        params = (GenParams(temperature=sampling.temperature, top_p=sampling.top_p, seed=sampling.seed,
                            max_new_tokens=max_new_tokens) if sampled and sampling is not None
                  else GenParams(temperature=0.0, max_new_tokens=max_new_tokens))
        turns = [Message(role=m["role"], content=m["content"]) for m in messages]

        def ask() -> Any:
            if self.max_requests is not None and self.requests >= self.max_requests:
                raise RequestBudgetSpent(f"{self.url}: the request budget of {self.max_requests} requests is spent",
                                         hint="raise max_requests (--set max_requests=N) and resume")
            self.requests += 1
            return answer(self.client, turns, params)

        reply = self._retry(ask)
        return Answer(reply.text.strip(), reply.tokens, reply.seconds, reply.tokens < max_new_tokens)

    def reference_nll(self, messages: list[dict[str, str]], reference: str) -> tuple[float, int] | None:
        return None

    def close(self) -> None:
        self.client.close()


_STATUS = re.compile(r"answered (\d{3})")


def _worth_retrying(exc: Exception) -> bool:
    """Timeouts, refused connections, 5xx, 408 and 429 may pass; another 4xx will not."""
    found = _STATUS.search(str(getattr(exc, "message", exc)))
    code = int(found.group(1)) if found else None
    return code is None or code >= 500 or code in (408, 429)


def refuse_unsupported(resolved: Any, target: str) -> None:
    """Targets the chat resolves but the evaluator cannot score faithfully: one line, before loading."""
    if getattr(resolved, "onnx_adapter", None):
        raise WorkbenchError(f"{target}: an adapter over an ONNX adapter base is not evaluated yet",
                             hint="evaluate the run itself (RUN_ID) or one of its merged variants (RUN_ID:int8)")


def open_answerer(target: str, *, adapter: str | None = None, threads: int = 1, endpoint_model: str | None = None,
                  api_key_env: str = "OPENAI_API_KEY", timeout: float = 120.0, retries: int = 3,
                  max_requests: int | None = None,
                  on_status: Callable[[str], None] = lambda _text: None) -> Answerer:
    """Resolve ``target`` as the Chat pane does (a missing preset variant is built first) and load it;
    ``max_requests`` is an endpoint's request budget (ignored for a local model)."""
    from ..chat.locate import resolve_target

    resolved = resolve_target(target, adapter=adapter)
    if resolved.kind == "http":
        if adapter:
            raise WorkbenchError(f"{target}: an adapter applies to a local model, not to an endpoint")
        return EndpointAnswerer(resolved.spec, model=endpoint_model, api_key_env=api_key_env, timeout=timeout,
                                retries=retries, max_requests=max_requests)
    assert resolved.folder is not None
    refuse_unsupported(resolved, target)
    if resolved.kind == "onnx" and not (resolved.folder / "genai_config.json").is_file():
        from ..chat.variant_build import build_on_demand

        on_status(f"building variant {resolved.spec} (it is not built yet)")
        build_on_demand(resolved.spec.rpartition(":")[0], resolved.variant or "", on_status=on_status)
    on_status(f"loading {resolved.spec}")
    return LocalAnswerer(resolved.kind, resolved.folder, label=resolved.spec, adapter=resolved.adapter,
                         threads=threads)
