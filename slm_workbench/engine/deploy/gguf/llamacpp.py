"""llama.cpp's own tools, when the user has them: the HF -> GGUF converter and the quantizer.

``convert_hf_to_gguf.py`` knows every architecture llama.cpp runs (vocabularies, merges,
pre-tokenizers, permutations), so it is the path for models that did not come from a GGUF.
``llama-quantize`` makes ``q4_k_m`` (k-quants are not in the ``gguf`` package). Neither is a
dependency: they are looked for in the folder a recipe names (``llama_cpp``), then in
``$SLMW_LLAMA_CPP`` (a llama.cpp checkout or build), then on ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...errors import WorkbenchError

ENV = "SLMW_LLAMA_CPP"
CONVERTERS = ("convert_hf_to_gguf.py", "convert-hf-to-gguf.py")
QUANTIZERS = ("llama-quantize", "quantize")
_BUILD_DIRS = (".", "build/bin", "bin", "build")


@dataclass(frozen=True)
class LlamaCpp:
    converter: Path | None
    quantizer: Path | None
    looked_in: tuple[str, ...]

    def describe_search(self) -> str:
        return ", ".join(self.looked_in)


def _in_folder(folder: Path, names: tuple[str, ...]) -> Path | None:
    for sub in _BUILD_DIRS:
        for name in names:
            candidate = folder / sub / name
            if candidate.is_file():
                return candidate
    return None


def find_llama_cpp(folder: str | None = None) -> LlamaCpp:
    """The converter and quantizer found in ``folder``, ``$SLMW_LLAMA_CPP``, then ``PATH``."""
    places = [(f"the recipe's llama_cpp ({folder})", Path(folder).expanduser())] if folder else []
    if os.environ.get(ENV):
        places.append((f"${ENV} ({os.environ[ENV]})", Path(os.environ[ENV]).expanduser()))
    converter = quantizer = None
    for _label, place in places:
        converter = converter or _in_folder(place, CONVERTERS)
        quantizer = quantizer or _in_folder(place, QUANTIZERS[:1])
    for name in CONVERTERS:
        converter = converter or (Path(found) if (found := shutil.which(name)) else None)
    quantizer = quantizer or (Path(found) if (found := shutil.which(QUANTIZERS[0])) else None)
    return LlamaCpp(converter, quantizer, tuple([label for label, _ in places] + ["PATH"]))


def _run(command: list[str], what: str, log: Callable[[str], None],
         check_cancelled: Callable[[], None]) -> None:
    log(" ".join(command))
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        tail = (tail + [line.rstrip()])[-20:]
        print(f"[{what}] {line.rstrip()}", flush=True)
        try:
            check_cancelled()
        except BaseException:
            proc.kill()
            raise
    if proc.wait() != 0:
        last = next((t for t in reversed(tail) if t.strip()), "no output")
        raise WorkbenchError(f"llama.cpp's {what} failed (exit {proc.returncode}): {last}",
                             hint="its full output is in the job's worker.log")


def convert(tools: LlamaCpp, hf_folder: Path, out_path: Path, outtype: str, *, log: Callable[[str], None],
            check_cancelled: Callable[[], None]) -> None:
    """``convert_hf_to_gguf.py HF_FOLDER --outfile OUT --outtype f16|q8_0`` with this Python."""
    assert tools.converter is not None
    _run([sys.executable, str(tools.converter), str(hf_folder), "--outfile", str(out_path), "--outtype", outtype],
         "convert_hf_to_gguf.py", log, check_cancelled)


def quantize(tools: LlamaCpp, f16_path: Path, out_path: Path, kind: str, *, log: Callable[[str], None],
             check_cancelled: Callable[[], None]) -> None:
    """``llama-quantize F16 OUT Q4_K_M``."""
    assert tools.quantizer is not None
    _run([str(tools.quantizer), str(f16_path), str(out_path), kind.upper()], "llama-quantize", log, check_cancelled)
