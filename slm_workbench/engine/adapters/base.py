"""An ONNX base that takes LoRA adapters at run time: ``MODEL:lora-fp32`` (or ``lora-int8``, ``lora-int4``).

ONNX Runtime GenAI switches adapters by feeding their weights as model inputs
(``og.Adapters`` + ``Generator.set_active_adapter``). The base is built in three steps:

1. the GenAI builder exports the model with a *template* LoRA over every linear layer of
   the decoder (rank 1, B = 0; ``--extra_options adapter_path=``): each projection gets
   ``lora_A`` / ``lora_B`` MatMuls beside it, their weights named
   ``model.layers.N.attn.q_proj.lora_A.MatMul.weight`` and so on;
2. for ``int8``/``int4`` the base MatMuls are quantized (MatMulNBits, RTN, symmetric,
   blocks of 32, as the builder's presets), the LoRA MatMuls are left in fp32, so one fp32
   ``.onnx_adapter`` serves every precision;
3. each LoRA weight becomes a graph input with a dynamic rank whose default initializer is
   empty (rank 0): with no adapter active the base answers alone, and any adapter of any
   rank over any subset of those layers can be fed (what Olive's ``ExtractAdapters`` pass
   does with ``make_inputs`` and ``optional_inputs``). Each layer's A and B share a rank
   of their own (``lora_r.<layer>.<module>``), and the builder's shapes of the LoRA tensors
   (from the rank-1 template) are dropped: with one rank for every layer, ONNX Runtime's
   planner let a rank-0 layer's output reuse a rank-8 layer's buffer, and an adapter over
   some layers only (``q_proj`` + ``k_proj``, the MLP alone) failed at its first token
   ("Shape mismatch attempting to re-use buffer");
4. each LoRA layer's ``x @ A`` is multiplied by the input ``lora_row_mask`` (shape
   [batch, 1, rank], default 1: no change) before ``@ B``, so rows of one batch can take
   different adapters (``serve/adapter_mix.py`` stacks their ranks and masks each row).

Bases built before 3 and 4 (``format`` < ``LORA_BASE_FORMAT``) are rebuilt on first use.

``slmw_lora_base.json`` in the folder records the model it came from (folder and
fingerprint, so an adapter trained on another model is refused) and the LoRA inputs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError
from .fingerprint import model_fingerprint

LORA_BASE_FILE = "slmw_lora_base.json"
LORA_VARIANT = re.compile(r"^lora-(fp32|int8|int4)$")
"""Variant names of an adapter base: ``lora-`` plus its precision."""
LORA_WEIGHT = re.compile(r"^(?P<prefix>.*layers\.(?P<layer>\d+)\.(?:.*\.)?(?P<module>\w+))\.lora_(?P<ab>[AB])\.MatMul\.weight$")
RANK_DIM = "lora_r"
_LORA_TENSOR = re.compile(r"/lora(_[AB])?/")
"""The builder's names of the tensors a LoRA layer computes (``/model/layers.0/attn/q_proj/lora_A/MatMul/output_0``)."""
LORA_BASE_FORMAT = 3
"""``format`` in ``slmw_lora_base.json``: 3 = a rank per layer and the row mask (above); older bases lack it."""
ROW_MASK = "lora_row_mask"


def is_lora_variant(variant: str | None) -> bool:
    return bool(variant and LORA_VARIANT.match(variant))


def lora_base_outdated(folder: Path) -> bool:
    """True for an adapter base an older workbench built (before a rank per layer and the row mask: see above)."""
    info = read_lora_base(folder)
    return info is not None and int(info.get("format") or 1) < LORA_BASE_FORMAT


def read_lora_base(folder: Path) -> dict[str, Any] | None:
    """What ``slmw_lora_base.json`` says, or None when ``folder`` is not an adapter base."""
    try:
        data = json.loads((Path(folder) / LORA_BASE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("inputs"), dict) else None


def _template_adapter(hf_folder: Path, out: Path) -> None:
    """A rank-1 LoRA over every linear layer but the head, B = 0 (the builder needs one to lay the graph out)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(hf_folder, dtype=torch.float32)
    lora = get_peft_model(model, LoraConfig(r=1, lora_alpha=1, target_modules="all-linear", task_type="CAUSAL_LM"))
    lora.save_pretrained(out)


def _lora_inputs(model: Any) -> dict[str, tuple[str, int, int]]:
    """LoRA weight initializers of the graph: name -> (A or B, rows, cols)."""
    found = {}
    for init in model.graph.initializer:
        match = LORA_WEIGHT.match(init.name)
        if match:
            found[init.name] = (match["ab"], int(init.dims[0]), int(init.dims[1]))
    return found


def _quantize(model: Any, bits: int, exclude: list[str]) -> Any:
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    config = DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=True, accuracy_level=4, bits=bits)
    quantizer = MatMulNBitsQuantizer(model, bits=bits, nodes_to_exclude=exclude, algo_config=config)
    quantizer.process()
    return quantizer.model.model


def _make_inputs(model: Any, lora: dict[str, tuple[str, int, int]]) -> None:
    """Each LoRA weight -> a graph input of dynamic rank, defaulting to an empty tensor (no adapter)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    kept = [init for init in model.graph.initializer if init.name not in lora]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    for name, (ab, rows, cols) in lora.items():
        rank = f"{RANK_DIM}.{LORA_WEIGHT.match(name)['prefix']}"  # A and B of one layer share it
        shape: list[Any] = [rows, rank] if ab == "A" else [rank, cols]
        empty = np.zeros((rows, 0) if ab == "A" else (0, cols), dtype=np.float32)
        model.graph.initializer.append(numpy_helper.from_array(empty, name))
        model.graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
    # the builder's shapes for the LoRA weights and the tensors between them say rank 1 (the template's)
    kept_info = [v for v in model.graph.value_info if v.name not in lora and not _LORA_TENSOR.search(v.name)]
    del model.graph.value_info[:]
    model.graph.value_info.extend(kept_info)
    _add_row_mask(model, {name for name, (ab, _r, _c) in lora.items() if ab == "A"})


def _add_row_mask(model: Any, a_weights: set[str]) -> None:
    """``x @ A`` -> ``(x @ A) * lora_row_mask`` in every LoRA layer; the mask defaults to 1."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    nodes = []
    for node in model.graph.node:
        nodes.append(node)
        if node.op_type == "MatMul" and len(node.input) == 2 and node.input[1] in a_weights:
            product, masked = node.output[0], f"{node.output[0]}/row_masked"
            for other in model.graph.node:
                for k, name in enumerate(other.input):
                    if name == product:
                        other.input[k] = masked
            nodes.append(helper.make_node("Mul", [product, ROW_MASK], [masked], name=f"{node.name}/RowMask"))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.initializer.append(numpy_helper.from_array(np.ones((1, 1, 1), dtype=np.float32), ROW_MASK))
    model.graph.input.append(helper.make_tensor_value_info(ROW_MASK, TensorProto.FLOAT, None))


def export_lora_base(hf_folder: Path, out: Path, *, precision: str = "fp32", work_dir: Path,
                     on_status: Callable[[str], None] = lambda _text: None,
                     check_cancelled: Callable[[], None] = lambda: None, threads: int | None = None) -> Path:
    """Build the adapter base of ``hf_folder`` at ``out`` (built aside, then renamed into place)."""
    import onnx

    from ..export.builder import run_builder

    if precision not in ("fp32", "int8", "int4"):
        raise WorkbenchError(f"an adapter base is fp32, int8 or int4, not {precision}")
    hf_folder, out = Path(hf_folder), Path(out)
    work = Path(work_dir) / f"lora-base-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "cache").mkdir(parents=True)
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        on_status("writing the template adapter (every linear layer)")
        _template_adapter(hf_folder, work / "template")
        check_cancelled()
        on_status("exporting the base with LoRA inputs (ONNX Runtime GenAI builder, fp32)")
        run_builder(hf_folder, work / "built", precision="fp32", options={"adapter_path": str(work / "template")},
                    cache_dir=work / "cache", log=work / "builder.log", check_cancelled=check_cancelled,
                    on_progress=lambda message, _done, _total: on_status(f"builder: {message}"), threads=threads)
        model = onnx.load(str(work / "built" / "model.onnx"))
        lora = _lora_inputs(model)
        if not lora:
            raise WorkbenchError(f"the builder left no LoRA layers in the export of {hf_folder}",
                                 hint=f"see {work / 'builder.log'}")
        if precision != "fp32":
            on_status(f"quantizing the base to {precision} (the LoRA layers stay fp32)")
            lora_nodes = [n.name for n in model.graph.node if any(i in lora for i in n.input)]
            model = _quantize(model, 8 if precision == "int8" else 4, lora_nodes)
        _make_inputs(model, lora)
        partial.mkdir(parents=True)
        for item in (work / "built").iterdir():
            if not item.name.startswith("model.onnx"):
                shutil.copy2(item, partial / item.name)
        onnx.save(model, str(partial / "model.onnx"), save_as_external_data=True, location="model.onnx.data",
                  size_threshold=1024)
        info = {"format": LORA_BASE_FORMAT, "source": str(hf_folder.resolve()), "fingerprint": model_fingerprint(hf_folder),
                "precision": precision, "row_mask": ROW_MASK,
                "inputs": {name: [ab, rows, cols] for name, (ab, rows, cols) in lora.items()}}
        (partial / LORA_BASE_FILE).write_text(json.dumps(info, indent=1), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    on_status(f"adapter base ready: {out}")
    return out
