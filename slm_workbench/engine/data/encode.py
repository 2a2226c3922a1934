"""Token ids and labels for a record: the single source of truth for what the trainer learns.

``labels`` equal ``input_ids`` where the loss is computed and are ``-100`` where it is
masked. With ``train_on="completion"`` only the assistant turns (or, for a text template,
the answer) are trained; with ``"all"`` every token is. The ids are exactly the model's
own ``apply_chat_template(messages, tokenize=True)`` (the rendered text tokenized once
with ``add_special_tokens=False``), and a token is trained when its characters overlap an
answer span, the rule ``transformers`` uses for ``{% generation %}`` masks.

Records (``formats.py``) are ``{"messages": [...]}``, ``{"prompt", "completion"}`` (a
rendered text template) or ``{"text"}``; plain text and completions get the EOS token
appended so the model learns to stop.

Use ``encode_example`` for one record, or an ``Encoder`` as a batched ``datasets.map``
function: ``ds.map(Encoder(tokenizer), batched=True)`` adds ``input_ids`` and ``labels``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .issues import DataFormatError
from .template import ChatRenderer, Span

TrainOn = Literal["completion", "all"]
IGNORE = -100
TokenRange = tuple[int, int]


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]

    @property
    def n_tokens(self) -> int:
        return len(self.input_ids)

    @property
    def n_trained(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


@dataclass(frozen=True)
class RenderedSample(Encoded):
    """One record exactly as the trainer sees it, for display: text, tokens, which are trained."""

    text: str
    tokens: list[str]
    """Each token's characters in ``text`` ('' for a token the tokenizer added)."""
    template: str = ""
    """What rendered it: ``text template``, ``plain text``, or the chat template (``the model's own``,
    ``chatml``, ``gemma``, ``file NAME.jinja``)."""

    def segments(self) -> list[tuple[str, bool]]:
        """Runs of text with one flag each: ``(text, trained)``; their concatenation is ``text``."""
        out: list[tuple[str, bool]] = []
        for piece, label in zip(self.tokens, self.labels):
            trained = label != IGNORE
            if out and out[-1][1] == trained:
                out[-1] = (out[-1][0] + piece, trained)
            elif piece:
                out.append((piece, trained))
        return out


def token_ranges(offsets: Sequence[tuple[int, int]], spans: Sequence[Span]) -> list[TokenRange]:
    """Token index ranges ``[i, j)`` whose characters overlap each span (offsets are in order)."""
    if not spans:
        return []
    starts = [s for s, _ in offsets]
    ends = [e for _, e in offsets]
    out = []
    for a, b in spans:
        i, j = bisect_right(ends, a), bisect_left(starts, b)
        if i < j:
            out.append((i, j))
    return out


def _ranges_by_char(encoding: Any, spans: Sequence[Span]) -> list[TokenRange] | None:
    """``token_ranges`` through the tokenizer's own char->token map: a few lookups per span
    instead of every token's offsets. A character split over two tokens (byte-level BPE on
    an emoji) maps to the first, so the edges are widened to every overlapping neighbour.
    None when a span edge falls outside every token (the caller then uses the offsets)."""
    out = []
    n = len(encoding)
    for a, b in spans:
        if b <= a:
            continue
        i, j = encoding.char_to_token(a), encoding.char_to_token(b - 1)
        if i is None or j is None:
            return None
        while i > 0 and (prev := encoding.token_to_chars(i - 1)) is not None and prev[1] > a:
            i -= 1
        while j + 1 < n and (nxt := encoding.token_to_chars(j + 1)) is not None and nxt[0] < b and nxt[1] > nxt[0]:
            j += 1
        out.append((i, j + 1))
    return out


def labels_for(ids: Sequence[int], ranges: Sequence[TokenRange]) -> list[int]:
    labels = [IGNORE] * len(ids)
    for i, j in ranges:
        labels[i:j] = ids[i:j]
    return labels


class Encoder:
    def __init__(self, tokenizer: Any, *, train_on: TrainOn = "completion") -> None:
        if train_on not in ("completion", "all"):
            raise ValueError(f"train_on must be 'completion' or 'all', not {train_on!r}")
        self.tokenizer = tokenizer
        self.train_on = train_on
        self.eos = tokenizer.eos_token or ""
        self._chat: ChatRenderer | None = None
        backend = getattr(tokenizer, "backend_tokenizer", None)
        self._backend = backend if backend is not None and self._backend_agrees(backend) else None

    @property
    def chat(self) -> ChatRenderer:
        if self._chat is None:
            self._chat = ChatRenderer(self.tokenizer)
        return self._chat

    def _backend_agrees(self, backend: Any) -> bool:
        probe = "<|im_start|>user\nHello, world!<|im_end|>\n" + (self.tokenizer.eos_token or "")
        try:
            for special in (False, True):
                if backend.encode(probe, add_special_tokens=special).ids != self.tokenizer(probe, add_special_tokens=special)["input_ids"]:
                    return False
        except Exception:  # noqa: BLE001
            return False
        return True

    def render(self, record: dict[str, Any]) -> tuple[str, list[Span], bool]:
        """``(text, trained character spans, add_special_tokens)`` of one record."""
        if "messages" in record:
            text, spans = self.chat.render_with_spans(record["messages"])
            return text, ([(0, len(text))] if self.train_on == "all" else spans), False
        if "completion" in record:
            prompt, completion = record.get("prompt") or "", record["completion"]
            text = prompt + completion + ("" if completion.endswith(self.eos) else self.eos)
            return text, [(0 if self.train_on == "all" else len(prompt), len(text))], True
        if "text" in record:
            text = record["text"] + ("" if record["text"].endswith(self.eos) else self.eos)
            return text, [(0, len(text))], True
        raise DataFormatError(f"a record needs 'messages', 'prompt'+'completion' or 'text'; got {', '.join(record) or 'nothing'}")

    def _tokenize(self, texts: list[str], special: bool) -> list[tuple[list[int], list[tuple[int, int]]]]:
        if self._backend is not None:
            return [(e.ids, e.offsets) for e in self._backend.encode_batch(texts, add_special_tokens=special)]
        enc = self.tokenizer(texts, add_special_tokens=special, return_offsets_mapping=True)
        return list(zip(enc["input_ids"], enc["offset_mapping"]))

    def encode_ranges(self, records: Sequence[dict[str, Any]]) -> list[tuple[list[int], list[TokenRange], str]]:
        """Per record: ``(input_ids, trained token ranges, rendered text)``; the compact form."""
        rendered = [self.render(r) for r in records]
        out: list[Any] = [None] * len(records)
        for special in (False, True):
            idx = [i for i, r in enumerate(rendered) if r[2] is special]
            if not idx:
                continue
            texts = [rendered[i][0] for i in idx]
            if self._backend is not None:
                for i, enc in zip(idx, self._backend.encode_batch(texts, add_special_tokens=special)):
                    ranges = _ranges_by_char(enc, rendered[i][1])
                    out[i] = (enc.ids, ranges if ranges is not None else token_ranges(enc.offsets, rendered[i][1]), rendered[i][0])
            else:
                for i, (ids, offsets) in zip(idx, self._tokenize(texts, special)):
                    out[i] = (ids, token_ranges(offsets, rendered[i][1]), rendered[i][0])
        return out

    def encode_many(self, records: Sequence[dict[str, Any]]) -> list[Encoded]:
        return [Encoded(list(ids), labels_for(ids, ranges)) for ids, ranges, _ in self.encode_ranges(records)]

    def encode(self, record: dict[str, Any]) -> Encoded:
        return self.encode_many([record])[0]

    def sample(self, record: dict[str, Any]) -> RenderedSample:
        text, spans, special = self.render(record)
        ids, offsets = self._tokenize([text], special)[0]
        pieces = [""] * len(ids)
        real = [k for k, (s, e) in enumerate(offsets) if e > s]
        for n, k in enumerate(real):  # each token runs to the next one's start: the pieces tile the text
            begin = 0 if n == 0 else offsets[k][0]
            end = offsets[real[n + 1]][0] if n + 1 < len(real) else len(text)
            pieces[k] = text[begin:end]
        return RenderedSample(list(ids), labels_for(ids, token_ranges(offsets, spans)), text, pieces)

    def template_of(self, record: dict[str, Any]) -> str:
        """Which template renders ``record`` (the tag a view shows over its sample)."""
        if "messages" in record:
            from .tokenizer import template_tag

            return f"chat template: {template_tag(self.tokenizer)}"
        return "text template" if "completion" in record else "plain text"

    def __getstate__(self) -> dict[str, Any]:  # datasets.map(num_proc=N) pickles the function
        return {"tokenizer": self.tokenizer, "train_on": self.train_on}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["tokenizer"], train_on=state["train_on"])  # type: ignore[misc]

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """A batched ``datasets.map`` function: columns of records in, ``input_ids``/``labels`` out."""
        names = [n for n in ("messages", "prompt", "completion", "text") if n in batch]
        if not names:
            raise DataFormatError("the dataset needs a 'messages', 'prompt'+'completion' or 'text' column")
        records = [dict(zip(names, values)) for values in zip(*(batch[n] for n in names))]
        encoded = self.encode_many(records)
        return {"input_ids": [e.input_ids for e in encoded], "labels": [e.labels for e in encoded]}


_ENCODERS: dict[tuple[int, str], Encoder] = {}


def encoder_for(tokenizer: Any, train_on: TrainOn = "completion") -> Encoder:
    """A cached ``Encoder`` (building one renders probes to check its fast paths)."""
    key = (id(tokenizer), train_on)
    enc = _ENCODERS.get(key)
    if enc is None or enc.tokenizer is not tokenizer:
        enc = _ENCODERS[key] = Encoder(tokenizer, train_on=train_on)
    return enc


def encode_example(record: dict[str, Any], tokenizer: Any, train_on: TrainOn = "completion") -> dict[str, list[int]]:
    """``{"input_ids", "labels"}`` for one record (labels are -100 where the loss is masked)."""
    encoded = encoder_for(tokenizer, train_on).encode(record)
    return {"input_ids": encoded.input_ids, "labels": encoded.labels}
