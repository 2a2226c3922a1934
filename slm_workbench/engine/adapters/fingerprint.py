"""Which model a folder holds, as a short hash that survives a copy or a move.

Used to tell whether a LoRA adapter was trained on the model an ONNX base was exported
from: the architecture (``config.json`` without the keys that name where or how it was
saved) and each weight file's size and first and last MiB. Two random initialisations of
one architecture differ; a copy of a folder does not. Reads at most 2 MiB per weight file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

VOLATILE_KEYS = ("_name_or_path", "transformers_version", "torch_dtype", "dtype", "use_cache")
CHUNK = 1 << 20


def model_fingerprint(folder: Path) -> str:
    folder = Path(folder)
    digest = hashlib.sha256()
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    for key in VOLATILE_KEYS:
        config.pop(key, None)
    digest.update(json.dumps(config, sort_keys=True).encode())
    for weights in sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin")):
        size = weights.stat().st_size
        digest.update(str(size).encode())
        with open(weights, "rb") as handle:
            digest.update(handle.read(CHUNK))
            handle.seek(max(0, size - CHUNK))
            digest.update(handle.read(CHUNK))
    return digest.hexdigest()[:16]
