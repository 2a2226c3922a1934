"""Rows of different LoRA adapters in one forward pass: the adapters' ranks stacked, a mask per row.

An adapter base of format 3 (``adapters/base.py``) multiplies each LoRA layer's ``x @ A`` by its
input ``lora_row_mask`` ([batch, 1, rank], default 1) before ``@ B``. For a batch over adapters
a and b of ranks r_a and r_b, every LoRA layer gets ``A = [A_a | A_b]`` and ``B = [B_a ; B_b]``
(a layer an adapter leaves out, or holds at a smaller rank, is padded with zeros), and row i's
mask is 1 on its adapter's columns and 0 elsewhere (all 0: the base alone). Each row so gets
``x A_its B_its``: on the fp32 base its logits are within 4e-5 of the adapter alone and its
greedy tokens the same (``tests/engine/serve/test_adapter_batching.py``). On an int8 or int4
base (int8 activations) the different summation order can move a token, as any change of
batch does.

ONNX Runtime GenAI 0.18 activates one adapter per generator (a second ``set_active_adapter``
replaces the first) and ``Generator.set_model_input`` ignores inputs that have a default (both
measured), so the stacked weights and the mask travel together as one adapter file: written
once per composition (the batch's adapter of each row, rows sorted by adapter, so a composition
is how many rows each adapter has), loaded into the model's ``og.Adapters``, and kept while
used (the ``KEEP`` most recent). Measured on SmolLM2-135M int8 (1 thread): a composition of
the two bench adapters (27 MB) is written and loaded in ~60 ms; one step of a mixed batch of 4
takes 18-19 ms against 28-30 ms for the same rows as two batches of 2, one per adapter.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

KEEP = 8
"""Compositions kept loaded (each holds every adapter of it: rank x (in + out) floats per layer)."""


class AdapterMixes:
    """The mixed-adapter compositions of one adapter base, made and loaded on the batch thread."""

    def __init__(self, adapters: Any, inputs: dict[str, list[Any]], row_mask: str, *, keep: int = KEEP) -> None:
        self.adapters = adapters
        self.inputs = inputs
        """``slmw_lora_base.json``'s LoRA inputs: name -> [A or B, rows, cols]."""
        self.row_mask = row_mask
        self.keep = keep
        self._weights: dict[str, tuple[dict[str, Any], int]] = {}
        self._loaded: OrderedDict[str, int] = OrderedDict()
        """Loaded compositions, least recently used first, with how many batches use each now."""
        self._dir = Path(tempfile.mkdtemp(prefix="slmw-adapter-mixes-"))

    def weights(self, key: str, path: Path) -> tuple[dict[str, Any], int]:
        """The adapter's LoRA weights (numpy, by input name) and its largest rank; read once."""
        if key not in self._weights:
            import numpy as np
            import onnxruntime as ort

            adapter = ort.AdapterFormat.read_adapter(str(path))
            # copied while the adapter is alive: the arrays point into its buffer
            params = {name: np.array(value.numpy(), copy=True) for name, value in adapter.get_parameters().items()}
            rank = max((v.shape[1] if self.inputs.get(n, ["B"])[0] == "A" else v.shape[0]) for n, v in params.items())
            self._weights[key] = (params, rank)
        return self._weights[key]

    def take(self, rows: list[str | None], files: dict[str, Path]) -> str:
        """The loaded composition for a batch whose row i takes adapter ``rows[i]`` (None: the base alone);
        made and loaded on first use. ``give_back`` it when the batch ends."""
        name = "mix:" + hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
        if name not in self._loaded:
            path = self._dir / f"{name[4:]}.onnx_adapter"
            self._write(rows, files, path)
            self.adapters.load(str(path), name)
            path.unlink()  # loaded into memory; nothing left on disk
            self._loaded[name] = 0
        self._loaded.move_to_end(name)
        self._loaded[name] += 1
        self._evict()
        return name

    def give_back(self, name: str) -> None:
        if name in self._loaded:
            self._loaded[name] = max(0, self._loaded[name] - 1)
            self._evict()

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)

    def _evict(self) -> None:
        for name in [n for n, users in self._loaded.items() if users == 0][: max(0, len(self._loaded) - self.keep)]:
            self.adapters.unload(name)
            del self._loaded[name]

    def _write(self, rows: list[str | None], files: dict[str, Path], path: Path) -> None:
        import numpy as np
        import onnxruntime as ort

        keys = sorted({key for key in rows if key is not None})
        stacks = {key: self.weights(key, files[key]) for key in keys}
        params = {}
        for name, (ab, n_rows, n_cols) in self.inputs.items():
            parts = []
            for key in keys:
                weights, rank = stacks[key]
                padded = np.zeros((n_rows, rank) if ab == "A" else (rank, n_cols), dtype=np.float32)
                if (value := weights.get(name)) is not None:
                    padded[: value.shape[0], : value.shape[1]] = value
                parts.append(padded)
            params[name] = np.ascontiguousarray(np.concatenate(parts, axis=1 if ab == "A" else 0))
        offsets, start = {}, 0
        for key in keys:
            offsets[key] = (start, start + stacks[key][1])
            start += stacks[key][1]
        mask = np.zeros((len(rows), 1, start), dtype=np.float32)
        for i, key in enumerate(rows):
            if key is not None:
                mask[i, 0, offsets[key][0]: offsets[key][1]] = 1.0
        params[self.row_mask] = mask
        adapter = ort.AdapterFormat()
        adapter.set_adapter_version(1)
        adapter.set_model_version(1)
        adapter.set_parameters({name: ort.OrtValue.ortvalue_from_numpy(value) for name, value in params.items()})
        adapter.export_adapter(str(path))
