"""Convert a GGUF file into a normal Hugging Face folder (safetensors + tokenizer + template).

Done once per model, never on every load: parsing this GGUF's metadata is pure Python and
takes several seconds each time transformers reads it (three times per conversion).

Traps handled here:
- a model loaded from GGUF keeps its ``GgufHfQuantizer`` and ``quantization_config``, so
  ``save_pretrained`` and ``Trainer`` refuse it; after dequantization the weights are plain
  fp32, so the quantizer tag is dropped before saving (weights are bit-identical);
- the folder is written aside (``.NAME.partial-PID``) and renamed into place, so an
  interrupted or failed conversion leaves nothing that looks like a model.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelFormatError, ModelNotFoundError, StorageError
from ..fsutil import built_aside
from ..paths import describe_os_error

GGUF_MAGIC = b"GGUF"
PROVENANCE_FILE = "slmw_model.json"
"""Written into every prepared folder: where it came from and how it was made."""

Phase = Callable[[str, int, int], None]


@dataclass(frozen=True)
class GgufSummary:
    path: Path
    architecture: str
    name: str
    parameters: int
    tensors: int
    file_bytes: int

    @property
    def fp32_bytes(self) -> int:
        return self.parameters * 4


def _field(reader: object, key: str) -> object | None:
    field = reader.fields.get(key)  # type: ignore[attr-defined]
    if field is None:
        return None
    value = field.contents()
    return value


def inspect_gguf(path: Path) -> GgufSummary:
    """Read a GGUF's header and tensor table, or raise a ModelFormatError naming the file."""
    path = Path(path)
    if not path.exists():
        raise ModelNotFoundError(f"no such file: {path}")
    if not path.is_file():
        raise ModelFormatError(f"{path} is not a file")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelFormatError(f"cannot read {path}: {describe_os_error(exc)}") from exc
    if magic != GGUF_MAGIC:
        raise ModelFormatError(f"{path} is not a GGUF file (it starts with {magic!r}; a GGUF file starts with b'GGUF')")
    from gguf import GGUFReader

    try:
        reader = GGUFReader(path)
    except Exception as exc:  # noqa: BLE001 - gguf raises ValueError/IndexError/struct errors on damage
        raise ModelFormatError(f"{path} is truncated or damaged: {type(exc).__name__}: {exc}") from None
    size = path.stat().st_size
    end = max((int(t.data_offset) + int(t.n_bytes) for t in reader.tensors), default=0)
    if end > size or not reader.tensors:
        raise ModelFormatError(f"{path} is truncated: its tensors need {end:,} bytes, the file has {size:,}")
    return GgufSummary(
        path=path,
        architecture=str(_field(reader, "general.architecture") or "?"),
        name=str(_field(reader, "general.name") or path.stem),
        parameters=sum(int(t.n_elements) for t in reader.tensors),
        tensors=len(reader.tensors),
        file_bytes=size,
    )


def check_free_space(folder: Path, needed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise StorageError(
            f"not enough free disk in {folder}: converting needs about {needed / 1e6:,.0f} MB, {free / 1e6:,.0f} MB free",
            hint="free some space or point SLMW_HOME at a larger disk",
        )


def strip_gguf_quantization(model: object) -> None:
    """Forget that the model came from a GGUF: its weights are already dequantized fp32."""
    model.hf_quantizer = None  # type: ignore[attr-defined]
    config = model.config  # type: ignore[attr-defined]
    if hasattr(config, "quantization_config"):
        del config.quantization_config


def convert_gguf(
    gguf_path: Path,
    out_dir: Path,
    *,
    display_name: str,
    upstream: str = "",
    on_phase: Phase = lambda phase, done, total: None,
    check_cancelled: Callable[[], None] = lambda: None,
) -> Path:
    """Write ``out_dir`` as an HF folder converted from ``gguf_path``; atomic and idempotent."""
    total = 6
    on_phase("checking the GGUF file", 0, total)
    summary = inspect_gguf(gguf_path)
    check_free_space(out_dir.parent, int(summary.fp32_bytes * 1.1) + 50_000_000)
    check_cancelled()
    with built_aside(out_dir, f"converting {gguf_path.name} into") as partial:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        on_phase("reading the tokenizer and chat template", 1, total)
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        check_cancelled()
        on_phase("reading and dequantizing the weights", 2, total)
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
        strip_gguf_quantization(model)
        model.config.name_or_path = display_name
        if tokenizer.eos_token_id is not None:
            model.generation_config.eos_token_id = tokenizer.eos_token_id
            model.generation_config.pad_token_id = tokenizer.pad_token_id or tokenizer.eos_token_id
        check_cancelled()
        on_phase("writing safetensors", 3, total)
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        write_provenance(partial, display_name, gguf_path, summary, upstream)
        del model
        check_cancelled()
        on_phase("verifying the converted folder", 4, total)
        verify_hf_folder(partial)
        on_phase("moving into place", 5, total)
    on_phase("done", total, total)
    return out_dir


def write_provenance(folder: Path, name: str, gguf_path: Path, summary: GgufSummary, upstream: str) -> None:
    info = {
        "name": name,
        "source": str(gguf_path),
        "source_bytes": summary.file_bytes,
        "source_mtime": gguf_path.stat().st_mtime,
        "upstream": upstream,
        "converted_from": "gguf",
        "parameters": summary.parameters,
        "created": time.time(),
    }
    (folder / PROVENANCE_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def verify_hf_folder(folder: Path) -> None:
    """Load config and tokenizer back and check the traps: no BOS added, a real EOS."""
    from transformers import AutoConfig, AutoTokenizer

    AutoConfig.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if not list((folder).glob("*.safetensors")):
        raise ModelFormatError(f"{folder}: no safetensors weights were written")
    if tokenizer.eos_token is None:
        raise ModelFormatError(f"{folder}: the converted tokenizer has no EOS token")
    # No chat template is no error: base models (Gemma 3 270M) have none. base models: see the
    # templates branch (it records that a model has none and lets the user choose one).
