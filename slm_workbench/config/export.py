"""Recipes of the ``export`` and ``compare`` stages (ONNX Runtime GenAI variants)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Section

DEFAULT_VARIANTS = ["fp32", "int8", "int4"]


def _check_variants(value: list[str]) -> list[str]:
    """Preset or group names (fast, balanced, all); the groups are expanded by the recipe."""
    from .presets import PRESETS, VARIANT_GROUPS

    unknown = [v for v in value if v not in PRESETS and v not in VARIANT_GROUPS]
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(PRESETS)} "
                         f"or a group: {', '.join(VARIANT_GROUPS)}")
    if not value:
        raise ValueError("give at least one variant")
    return value


class VariantSettings(Section):
    """How the variants a job builds are quantized: shared by ``export`` and ``compare`` (whose missing
    variants it builds). A non-default knob is part of the variant's name, so two settings never
    overwrite each other (``int4-b128``, ``int4-cal-sym``, ``int4-cal-c128``)."""

    block_size: int | None = Field(default=None)
    """int4/int8 block size (16, 32, 64, 128, 256); default 32. A non-default value is part of the
    variant's name (``int4-b128``)."""
    accuracy_level: int | None = Field(default=None, ge=0, le=4)
    """MatMulNBits accuracy level: 4 = int8 activations (fast on CPU), 1 = fp32; default 4."""
    symmetric: bool | None = None
    """Symmetric int4/int8 weights (default: true for int4, false for int8 (uint8 zero points: it answers
    like fp32) and int4-cal, whose 4-bit zero points are packed beside the weights); the other choice
    names the variant ``…-asym`` / ``…-sym``."""
    calibration_data: str | None = None
    """Text the calibrated variants (int4-cal, int4-hq-cal, int4-mix-cal) are fitted on: a prepared dataset
    folder (its train split), a JSONL of records, a text file, or ``slmw:demo``. Default: the run's own training data
    for a run, the demo data for a model. Never the eval split the comparison scores."""
    calibration_samples: int = Field(default=32, ge=1, le=1024)
    """Calibration sequences of 256 tokens for the calibrated int4s (one fp32 pass each); a non-default number
    is part of the variant's name (``int4-cal-c128``)."""

    @field_validator("block_size")
    @classmethod
    def _block(cls, value: int | None) -> int | None:
        if value is not None and value not in (16, 32, 64, 128, 256):
            raise ValueError("block_size must be one of 16, 32, 64, 128, 256")
        return value

    def variant_knobs(self) -> dict[str, object]:
        """The keyword arguments of ``resolve_presets``."""
        return {"block_size": self.block_size, "accuracy_level": self.accuracy_level, "symmetric": self.symmetric,
                "calibration_samples": self.calibration_samples, "calibration_data": self.calibration_data}


class ExportRecipe(VariantSettings):
    """Export a model, a run's fine-tuned model, or any HF folder to ONNX Runtime GenAI variants."""

    stage: Literal["export"] = "export"
    model: str = Field(min_length=1)
    """A model reference (built-in name, HF folder, prepared name, GGUF) or a training run id; a run's
    LoRA adapter is merged into its base first (kept in the run's ``artifacts/merged``)."""
    variants: list[str] = Field(default_factory=lambda: list(DEFAULT_VARIANTS))
    """Presets to build: fp32, fp16 (CUDA), int8, int4, int4-hq (data-free 4-bit with exact block offsets,
    8-bit embeddings/head; loses task skill on fine-tuned weights), int4-cal (4-bit GPTQ on calibration data,
    8-bit embeddings/head), int4-hq-cal (GPTQ on int4-hq's exact offsets everywhere: the most exact int4),
    int4-mix-cal (GPTQ, exact offsets on the MLP's gate/up only, a 4-bit head: the fast calibrated int4),
    int4-gptq-ort (ONNX Runtime's GPTQ rounding, for comparison), int4-olive (Olive RTN); or a group: fast
    (int8, int4), balanced (fp32, int8, int4, int4-hq-cal, int4-mix-cal), all."""
    execution_provider: Literal["cpu", "cuda"] = "cpu"
    """Target of the builder; fp16 is always built for CUDA."""
    overwrite: bool = False
    """Build again a variant that already exists."""
    threads: int | None = Field(default=None, ge=1)
    """CPU threads for the builder (default: its own choice)."""

    @field_validator("variants")
    @classmethod
    def _known_variants(cls, value: list[str]) -> list[str]:
        return _check_variants(value)

    @model_validator(mode="after")
    def _expand_groups(self) -> ExportRecipe:
        """After the fields: whether "all" includes fp16 depends on the execution provider."""
        from .presets import expand_groups

        expanded = expand_groups(self.variants, cuda=self.execution_provider == "cuda")
        if expanded != self.variants:  # assignment validates again: only when something changed
            self.variants = expanded
        return self

class CompareRecipe(VariantSettings):
    """Measure variants side by side with the PyTorch reference: size, load time, peak RAM, time to
    first token, decode tokens/s, perplexity, agreement and task score; broken variants flagged."""

    stage: Literal["compare"] = "compare"
    model: str = Field(min_length=1)
    """The model or run whose variants are compared (as for ``export``)."""
    variants: list[str] | None = None
    """Variants to compare: built ones by name (``int4-b128``), missing presets are built first;
    a group (fast, balanced, all) stands for its presets. Default: every variant already built,
    or fp32, int8 and int4 when none is."""
    eval: str | None = None
    """Held-out data: a prepared dataset folder (its eval split), a JSONL of records, or a text file.
    Default: the run's prepared dataset for a run, else the workbench's own held-out prose."""
    reference: bool = True
    """Measure the PyTorch fp32 model too (the reference for agreement and ratios)."""
    threads: int = Field(default=1, ge=1)
    """Threads per model while measuring (the same for all; 1 is often fastest on small CPUs)."""
    new_tokens: int = Field(default=64, ge=8, le=2048)
    """Greedy tokens decoded from the prompt (agreement and speed)."""
    decode_runs: int = Field(default=3, ge=1, le=50)
    """Decode runs per model; the median is reported."""
    rounds: int = Field(default=1, ge=1, le=10)
    """Extra speed rounds visit every model in turn, spreading outside load over all of them."""
    perplexity_tokens: int = Field(default=2048, ge=16)
    """Tokens of held-out text scored for perplexity (the same ids for every model)."""
    task_examples: int = Field(default=64, ge=0)
    """Eval examples answered greedily and scored by the evaluator's task score (JSON fields, else word
    F1), with a bootstrap 95% interval; 64 keeps one answer from moving the mean more than ~2 points."""
    prompt: str | None = None
    """The prompt decoded for agreement and speed (default: a short story request)."""
    ppl_ratio: float = Field(default=2.0, gt=1.0)
    """A variant whose perplexity exceeds this many times the reference's is flagged broken."""
    @field_validator("variants")
    @classmethod
    def _variant_names(cls, value: list[str] | None) -> list[str] | None:
        from .presets import VARIANT_NAME, expand_groups

        if value is not None:
            bad = [v for v in value if not VARIANT_NAME.match(v)]
            if bad or not value:
                raise ValueError(f"not a variant name: {', '.join(bad) or '(empty list)'}")
            value = expand_groups(value)
        return value
