"""Recipe of the ``deploy.gguf`` stage: a GGUF file and an Ollama Modelfile for llama.cpp and Ollama."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section


class GgufRecipe(Section):
    """Write a model or a fine-tuned run as a GGUF file (f16, q8_0, or q4_k_m with llama.cpp's quantizer)
    with an Ollama Modelfile whose TEMPLATE is the model's chat template; a run's LoRA adapter is merged
    on the way. With llama-cpp-python (--llama-python) the file is loaded in llama.cpp and its greedy
    answers compared with the workbench's. Models converted from a llama-architecture GGUF (the built-in SmolLM2 and runs fine-tuned
    from it) are written by the workbench itself; any other model needs llama.cpp's convert_hf_to_gguf.py."""

    stage: Literal["deploy.gguf"] = "deploy.gguf"
    source: str = Field(min_length=1)
    """A model reference (built-in name, HF folder, prepared name, GGUF) or a training run id."""
    type: Literal["f16", "q8_0", "q4_k_m"] = "f16"
    """Weight type: f16, q8_0 (8-bit blocks of 32), or q4_k_m (needs llama.cpp's llama-quantize)."""
    output: str | None = None
    """The folder to write (model.gguf, Modelfile, gguf.json); default: the job's
    ``artifacts/gguf-<type>``. An existing folder is refused unless ``force``."""
    force: bool = False
    """Replace an existing output folder (only once the new one is complete)."""
    converter: Literal["auto", "workbench", "llama.cpp"] = "auto"
    """auto: the workbench's writer for models that came from a GGUF, else llama.cpp's converter;
    workbench or llama.cpp: that one only."""
    llama_cpp: str | None = None
    """A llama.cpp checkout or build folder (convert_hf_to_gguf.py, llama-quantize); default
    ``$SLMW_LLAMA_CPP``, then PATH."""
    llama_python: str | None = None
    """A Python that has llama-cpp-python (in an environment of its own): q4_k_m without llama.cpp's
    CLI, and the check of the written file in llama.cpp; default ``$SLMW_LLAMA_PYTHON``."""
