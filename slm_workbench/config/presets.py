"""The variants ``slmw export`` can build, by name.

A variant is a precision plus the options that change its numbers; its name is what the
user types after the colon (``smollm2-135m-instruct:int4``). The knobs the issue asks for
(int4 block size, accuracy level, symmetric or not) give derived names, so two builds with
different settings never overwrite each other: ``int4`` is block 32, accuracy level 4,
symmetric; ``int4-b128-a1`` is block 128 at accuracy level 1; ``int4-asym`` is asymmetric.

Paths:

- ``builder``: the ONNX Runtime GenAI model builder alone.
- ``offset4``: the builder's fp32 graph, then our own pass (``offset_quant.py``): 4-bit blocks
  of 32 with an exact per-block offset (a Q4_1 block), the offsets folded into the same
  symmetric MatMulNBits by augmenting K with the input's block sums, and the tied embedding /
  lm_head at 8 bits. Measured on SmolLM2: perplexity +0.7% over fp32 where the builder's int4
  is +32%, decoding at ~0.8x the builder int4's speed and ~1.2x llama.cpp Q4_1's at one thread
  (see bench/variants.py).
- ``gptq``: the builder's fp32 graph, then our GPTQ pass (``calibrated.py``) fitted on calibration
  text (a run's own training data by default): asymmetric 4-bit blocks with packed zero points,
  8-bit embeddings/head. ``int4-hq`` fits the base SmolLM2 exactly because its weights sit on a
  Q4_1 grid; a merged LoRA moves them off it, and there the calibrated fit keeps the skill.
  ``int4-hq-cal`` is the same GPTQ on ``int4-hq``'s folded graph (exact per-block offsets): a block
  already on a Q4_1 grid stays exact, the others are fitted with the calibration data.
- ``olive``: the builder's fp32 graph, then ``olive quantize --algorithm rtn --precision int4``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

from ..engine.errors import WorkbenchError

VARIANT_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
"""What a variant may be called (a folder name; `MODEL:VARIANT` splits on it)."""

Precision = Literal["fp32", "fp16", "int8", "int4"]
Path_ = Literal["builder", "offset4", "gptq", "olive"]
CALIBRATION_SAMPLES = 32


@dataclass(frozen=True)
class VariantPreset:
    name: str
    precision: Precision
    path: Path_ = "builder"
    block_size: int = 32
    accuracy_level: int = 4
    symmetric: bool = True
    offsets: bool = False
    """``gptq`` only: exact per-block offsets folded into the MatMulNBits (``int4-hq``'s graph) instead of
    uint8 zero points."""
    offsets_in: tuple[str, ...] = ()
    """``gptq`` only, with ``offsets`` off: the MatMuls (by a part of the graph's node name, e.g. ``gate_proj``)
    that get exact offsets all the same; the others keep packed 4-bit zero points. Each input folded costs
    an AveragePool-sized set of small nodes per decode step, so folding only where it pays is the speed."""
    head_bits: int = 8
    """Our passes: the tied lm_head at 8 bits (one copy shared with the embedding) or 4 (GPTQ'd; the
    embedding then keeps its own 8-bit table)."""
    algorithm: str = "slmw-gptq"
    """``gptq`` only: who fits the 4-bit blocks (``engine/export/calibrated.ALGORITHMS``)."""
    calibration_samples: int = CALIBRATION_SAMPLES
    calibration_data: str | None = None
    """None: the run's training data, or the demo data for a model (``export.calibration_source``)."""
    extra: dict[str, str] = field(default_factory=dict)
    """More builder ``--extra_options`` (KEY=VALUE) for this preset."""
    description: str = ""

    @property
    def quantized(self) -> bool:
        return self.precision in ("int8", "int4")

    def builder_precision(self) -> Precision:
        """What the builder is asked for: the post-passes start from the fp32 graph."""
        return "fp32" if self.path != "builder" else self.precision

    def builder_options(self) -> dict[str, str]:
        if self.path != "builder" or not self.quantized:
            return dict(self.extra)
        options = {"block_size": str(self.block_size), "accuracy_level": str(self.accuracy_level)}
        if not self.symmetric:
            options["is_symmetric"] = "false"
            # 0.18's builder writes a broken graph for asymmetric weights shared between the
            # embedding and lm_head (uint8 data reshaped where floats are expected).
            options["shared_embeddings"] = "false"
        return {**options, **self.extra}

    def settings(self) -> dict[str, object]:
        """What ``slmw_variant.json`` records about how the variant was made."""
        out: dict[str, object] = {"precision": self.precision, "path": self.path}
        if self.quantized:
            out.update(block_size=self.block_size, accuracy_level=self.accuracy_level, symmetric=self.symmetric)
        if self.path in ("offset4", "gptq"):
            out.update(head_bits=self.head_bits, embedding_bits=8)  # our passes: the embedding in 8-bit blocks
        if self.path == "gptq":
            out.update(calibration_samples=self.calibration_samples, calibration_data=self.calibration_data,
                       offsets=self.offsets, algorithm=self.algorithm)
            if self.offsets_in:  # only when set: the settings hashes of the presets before it stay as they were
                out["offsets_in"] = list(self.offsets_in)
        if self.extra:
            out["extra_options"] = dict(self.extra)
        return out


PRESETS: dict[str, VariantPreset] = {
    p.name: p
    for p in (
        VariantPreset("fp32", "fp32", description="full precision: the ONNX reference"),
        VariantPreset("fp16", "fp16", description="half precision (CUDA execution provider)"),
        # Asymmetric (uint8 zero points) because symmetric int8 flips the README's first question on the base
        # SmolLM2 ("The capital..." -> "L'Étoile..."): its weights are dequantized Q4_1 blocks (min + q*d), which a
        # uint8 grid over the same 32 values holds to within d/34 where max|w|/127 does not. Accuracy level 4 (int8
        # activations): 8-bit MatMulNBits at level 1 leaves the fast kernel (~2 tok/s against ~50 on one core).
        # Measured in bench/variants.py's docstring (issue #19).
        VariantPreset("int8", "int8", symmetric=False,
                      description="8-bit weights, asymmetric (uint8 zero points), blocks of 32, int8 activations; "
                                  "fp32 embedding"),
        VariantPreset("int4", "int4", description="4-bit weights, builder RTN: symmetric, blocks of 32, int8 activations"),
        VariantPreset(
            "int4-hq", "int4", path="offset4", symmetric=False,
            description="data-free 4-bit blocks of 32 with exact offsets (Q4_1-like) folded into one MatMulNBits; "
                        "embeddings and lm_head at 8 bits. Exact on weights already on a Q4_1 grid (the base "
                        "SmolLM2); on fine-tuned weights it can lose much of the task (int4-hq-cal keeps it)",
        ),
        VariantPreset(
            "int4-cal", "int4", path="gptq", symmetric=False,
            description="4-bit GPTQ fitted on calibration text (a run's training data, else the demo data), packed "
                        "4-bit zero points; embeddings and lm_head at 8 bits",
        ),
        VariantPreset(
            "int4-hq-cal", "int4", path="gptq", symmetric=False, offsets=True,
            description="the most exact int4 here: GPTQ fitted on calibration text (a run's training data, else the "
                        "demo data) on int4-hq's exact block offsets everywhere; embeddings and lm_head at 8 bits "
                        "(slower than int4-mix-cal: the offsets' small nodes on every input)",
        ),
        # Measured on the smoke LoRA (bench/variants.py, 64 held-out examples, 1 thread): int4-hq-cal -2.1% perplexity
        # and 100% of the task at 1.09x llama.cpp Q4_K_M; this one -0.3% and 99% [97%, 101%] at 1.37x. The folded
        # offsets cost ~10 us of small nodes per input a step, not MACs; gate/up (one input a layer) carry the
        # largest share of the zero points' error (5.5x the offsets' there), and the 4-bit head saves ~15%.
        VariantPreset(
            "int4-mix-cal", "int4", path="gptq", symmetric=False, offsets_in=("gate_proj", "up_proj"), head_bits=4,
            description="the fast calibrated int4: GPTQ fitted on calibration text (a run's training data, else the "
                        "demo data), lm_head included; exact block offsets on the MLP's gate/up, packed 4-bit zero "
                        "points elsewhere; the embedding table at 8 bits. Fitted to its calibration data's domain: "
                        "on other text it loses more (the smoke LoRA on general prose: +22% perplexity, "
                        "int4-hq-cal -3%)",
        ),
        VariantPreset(
            "int4-gptq-ort", "int4", path="gptq", symmetric=False, algorithm="ort-gptq",
            description="ONNX Runtime's GPTQ rounding on calibration text (a run's training data), its grid re-derived "
                        "from the rounded weights; embeddings and lm_head at 8 bits. Kept to compare: on the smoke "
                        "LoRA +4.8% perplexity where int4-cal (ours, same format) is +2.4%",
        ),
        VariantPreset(
            "int4-olive", "int4", path="olive", block_size=128, accuracy_level=0,
            description="Olive RTN int4 (blocks of 128) on the fp32 graph",
        ),
    )
}
DEFAULT_VARIANTS = ("fp32", "int8", "int4")

VARIANT_GROUPS: dict[str, tuple[str, ...]] = {
    "fast": ("int8", "int4"),
    "balanced": ("fp32", "int8", "int4", "int4-hq-cal", "int4-mix-cal"),
    "all": (),  # every preset: see expand_groups
}
"""Selections by purpose (the Quantize & Compare pane's presets, ``--variants balanced``): ``fast``
is the two quick quantized builds; ``balanced`` adds the fp32 ONNX graph and both calibrated int4s,
and the comparison's rules pick between them: ``int4-hq-cal`` (GPTQ on exact block offsets
everywhere: as exact as ``int4-hq`` on the base SmolLM2, whose weights sit on a Q4_1 grid, and it
keeps a LoRA's task) and ``int4-mix-cal`` (offsets only on the MLP's gate/up, a 4-bit head: ~1.2x
int4-hq-cal's decode speed; on the smoke LoRA it keeps the task and is recommended, on the base
model it loses half of the little task score the base has, and int4-hq-cal is the one to use).
For a model without training data both are calibrated on the shipped demo data (chat and contact
extraction). ``all`` is every preset (fp16 only when the variants are built for CUDA)."""


def expand_groups(names: list[str], *, cuda: bool = False) -> list[str]:
    """``["balanced", "int4-olive"]`` -> the presets they stand for, in order, each once."""
    out: list[str] = []
    for name in names:
        if name == "all":
            members = [p for p in PRESETS if cuda or PRESETS[p].precision != "fp16"]
        else:
            members = list(VARIANT_GROUPS.get(name, (name,)))
        out += [m for m in members if m not in out]
    return out


def derived_name(base: VariantPreset, block_size: int, accuracy_level: int, symmetric: bool,
                 calibration_samples: int | None = None) -> str:
    name = base.name
    if block_size != base.block_size:
        name += f"-b{block_size}"
    if accuracy_level != base.accuracy_level:
        name += f"-a{accuracy_level}"
    if symmetric != base.symmetric:
        name += "-sym" if symmetric else "-asym"
    if calibration_samples is not None and calibration_samples != base.calibration_samples:
        name += f"-c{calibration_samples}"
    return name


def resolve_presets(
    names: list[str] | str,
    *,
    block_size: int | None = None,
    accuracy_level: int | None = None,
    symmetric: bool | None = None,
    calibration_samples: int | None = None,
    calibration_data: str | None = None,
) -> list[VariantPreset]:
    """Presets for ``names`` (a list or ``"fp32,int8,int4"``); the knobs apply to builder int4/int8 and to
    int4-cal (which also takes the calibration ones), the accuracy level to int4-hq too (``int4-hq-a1``
    computes with fp32 activations)."""
    if isinstance(names, str):
        names = [n for n in re.split(r"[,\s]+", names) if n]
    names = expand_groups(names)
    if not names:
        raise WorkbenchError("no variants given", hint=f"choose from {', '.join(PRESETS)}")
    out: list[VariantPreset] = []
    for name in names:
        preset = PRESETS.get(name)
        if preset is None:
            raise WorkbenchError(f"unknown variant '{name}'", hint=f"choose from {', '.join(PRESETS)}")
        if preset.path == "offset4" and accuracy_level is not None and accuracy_level != preset.accuracy_level:
            preset = replace(preset, name=f"{preset.name}-a{accuracy_level}", accuracy_level=accuracy_level)
        if preset.quantized and preset.path in ("builder", "gptq"):
            bs = block_size if block_size is not None else preset.block_size
            acc = accuracy_level if accuracy_level is not None else preset.accuracy_level
            sym = symmetric if symmetric is not None and not preset.offsets else preset.symmetric
            cal = calibration_samples if calibration_samples is not None else preset.calibration_samples
            gptq = preset.path == "gptq"
            preset = replace(preset, name=derived_name(preset, bs, acc, sym, cal if gptq else None), block_size=bs,
                             accuracy_level=acc, symmetric=sym, calibration_samples=cal,
                             calibration_data=calibration_data if gptq else None)
        if not VARIANT_NAME.match(preset.name):  # pragma: no cover - derived names always match
            raise WorkbenchError(f"bad variant name {preset.name}")
        if preset.name not in [p.name for p in out]:
            out.append(preset)
    return out
