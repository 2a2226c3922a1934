"""The chat-template round trip: does every path render a conversation to the same token ids?

A model fine-tuned on one rendering and served with another answers in gibberish or never
stops (unsloth 3899, LLaMA-Factory 6320, ollama 6823, foundry-local 207). For a run (or a
model) and its exported variants, the same probe conversations are rendered through the
training template, each variant's exported tokenizer/template, and the serving path; the
ids are compared with training as the reference, and every difference is reported with
the token position and the text on both sides. The end-of-turn token the model was
trained to stop on must also be one of each variant's ``eos_token_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelNotFoundError
from ..model_source import resolve_source
from .locate import resolve_target
from .template_render import Rendering, training_rendering, variant_renderings
from .types import Message

PROBES: tuple[tuple[str, list[Message]], ...] = (
    ("with a system prompt, two turns", [
        Message(role="system", content="You are a terse assistant."),
        Message(role="user", content="What is the capital of France?"),
        Message(role="assistant", content="Paris."),
        Message(role="user", content="And of Italy?"),
        Message(role="assistant", content="Rome."),
    ]),
    ("no system prompt", [
        Message(role="user", content="Name a prime number."),
        Message(role="assistant", content="Seven."),
    ]),
)


@dataclass
class Finding:
    probe: str
    mode: str
    """``prompt`` (what generation starts from) or ``conversation`` (the whole chat, as trained)."""
    path: str
    message: str


@dataclass
class TemplateReport:
    target: str
    training_source: str
    variants: dict[str, str] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "ok": self.ok, "training_source": self.training_source, "variants": self.variants,
                "checked": self.checked, "findings": [f.__dict__ for f in self.findings]}


def training_folder(target: str) -> tuple[Path, dict[str, Path]]:
    """The folder holding the training tokenizer, and the variants built from it."""
    source = resolve_source(target, prepared=False)
    if source.run is not None:
        folder = source.run.tokenizer_folder()
        if folder is None:
            raise ModelNotFoundError(f"run {source.run.id} saved no tokenizer with its adapter or model")
        return folder, source.built_variants()
    assert source.model is not None
    return source.model.require_prepared(), source.built_variants()


def first_difference(reference: list[int], other: list[int]) -> int | None:
    for i, (a, b) in enumerate(zip(reference, other)):
        if a != b:
            return i
    return None if len(reference) == len(other) else min(len(reference), len(other))


def describe(tokenizer: Any, reference: Rendering, other: Rendering) -> str | None:
    if other.error:
        return other.error
    assert reference.ids is not None and other.ids is not None
    k = first_difference(reference.ids, other.ids)
    if k is None:
        return None

    def around(ids: list[int]) -> str:
        before = tokenizer.decode(ids[max(0, k - 3):k], skip_special_tokens=False)
        after = tokenizer.decode(ids[k:k + 3], skip_special_tokens=False) if k < len(ids) else "(end)"
        return repr(before)[1:-1] + " ▸ " + repr(after)[1:-1]

    return (f"differs from training at token {k} (training {len(reference.ids)} tokens, {other.path} {len(other.ids)}): "
            f"training: {around(reference.ids)} | {other.path}: {around(other.ids)}")


def check_templates(target: str, *, variants: list[str] | None = None, probes=PROBES) -> TemplateReport:
    """Compare training, exported and serving renderings for ``target`` and its variants."""
    from transformers import AutoTokenizer

    from .og_backend import OnnxGenaiBackend

    folder, found = training_folder(target)
    if variants:
        found = {v: resolve_target(f"{target}:{v}").folder or Path() for v in variants}
    tokenizer = AutoTokenizer.from_pretrained(folder)
    report = TemplateReport(target, str(folder), {k: str(v) for k, v in found.items()})
    if not found:
        report.findings.append(Finding("-", "-", "exported", "no exported variant to compare (build one with slmw export)"))
    backends = {name: OnnxGenaiBackend(path, label=name) for name, path in found.items()}
    eos_checked: set[str] = set()
    for probe, conversation in probes:
        for mode in ("prompt", "conversation"):
            reference = training_rendering(tokenizer, conversation, str(folder), prompt=mode == "prompt")
            if reference.error:
                report.findings.append(Finding(probe, mode, "training", reference.error))
                continue
            for name, backend in backends.items():
                for other in variant_renderings(backend, name, conversation, prompt=mode == "prompt"):
                    report.checked.append(f"{probe} / {mode} / {other.path}")
                    problem = describe(tokenizer, reference, other)
                    if problem:
                        report.findings.append(Finding(probe, mode, other.path, problem))
                if name not in eos_checked and reference.end_of_turn is not None and reference.end_of_turn not in backend.eos_ids:
                    eos_checked.add(name)
                    token = tokenizer.convert_ids_to_tokens(reference.end_of_turn)
                    report.findings.append(Finding(probe, mode, f"exported {name}", (
                        f"the model was trained to end its answers with {token!r} (id {reference.end_of_turn}) but "
                        f"genai_config.json stops on {sorted(backend.eos_ids)}: generation will run past the answer")))
    for backend in backends.values():
        backend.close()
    return report
