"""``int4-hq``: 4-bit blocks with an exact float offset, inside MatMulNBits' fast CPU kernel.

Why a pass of our own: a block quantized as ``w = scale * q + offset`` (llama.cpp's Q4_1,
q in 0..15) is what min/max asymmetric quantization gives, and it is exact for weights that
were themselves Q4_1 (SmolLM2 here is dequantized from a Q4_1 GGUF). MatMulNBits can hold
the offset as a float zero point, but onnxruntime 1.31 then leaves its fast kernel for a
dequantize-every-call path (50x slower on this CPU); with uint8 zero points the offset
must be a whole number of steps, which costs as much as plain RTN. So each MatMul becomes::

    Y = MatMulNBits(X; q, scale)            # no zero point: the kernel's fast path (q - 8)
      + blocksum(X) @ C                     # C[b, n] = offset[n, b] + 8 * scale[n, b]

where ``blocksum`` adds up each block of 32 inputs (a Reshape and a ReduceSum, shared by
the MatMuls that read the same input). This is exact algebra; C itself is stored in 8-bit
blocks (a second, small MatMulNBits), whose error is ~1/34 of a weight step. The
tied embedding / lm_head goes to 8-bit symmetric blocks (MatMulNBits + GatherBlockQuantized
sharing one copy): 4 bits there costs about 8% perplexity on SmolLM2 whatever the method.

Scales and offsets start from each block's min/max and are refined by a least-squares refit
(kept only where it lowers the error), so weights that did not come from Q4_1 also get a
good fit. The input is the builder's fp32 graph; the output is a complete GenAI folder.

The price is speed: the offsets add about 16 small ops per layer (ORT profiling shows them
at ~20% of a decode step), so int4-hq decodes at ~0.65-0.8x the builder's int4 on one CPU thread
(fusing gate/up, or storing C as floats instead of 8 bits, changes nothing measurable).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ProgressFn = Callable[[str, float, float], None]
MS_DOMAIN = "com.microsoft"


@dataclass
class OffsetQuantStats:
    tensors_4bit: int = 0
    tensors_8bit: int = 0
    blocks: int = 0
    exact_blocks: int = 0
    weight_rel_error: float = 0.0
    """Relative L2 error of all 4-bit weights together."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "tensors_4bit": self.tensors_4bit,
            "tensors_8bit": self.tensors_8bit,
            "exact_block_share": round(self.exact_blocks / self.blocks, 4) if self.blocks else None,
            "weight_rel_error": round(self.weight_rel_error, 6),
        }


def quantize_blocks_offset4(
    w: np.ndarray, block_size: int = 32, refit_rounds: int = 2
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``w`` [N, K] -> q [N, K/bs, bs] (0..15), scale, offset [N, K/bs] with w ~ scale*q + offset, and each
    block's squared error."""
    n, k = w.shape
    x = np.ascontiguousarray(w, dtype=np.float32).reshape(n, k // block_size, block_size)
    lo, hi = x.min(-1), x.max(-1)
    scale = (hi - lo) / np.float32(15.0)
    scale = np.where(scale > 0, scale, np.float32(1.0))
    offset = lo
    q = np.clip(np.rint((x - offset[..., None]) / scale[..., None]), 0, 15)
    err = np.square(scale[..., None] * q + offset[..., None] - x).sum(-1)
    inexact = err > 1e-10 * np.maximum(np.square(x).sum(-1), 1e-30)
    if refit_rounds and inexact.any():
        # refit only the blocks min/max does not already fit exactly (none, for a Q4_1 source)
        q[inexact], scale[inexact], offset[inexact], err[inexact] = _refit(
            x[inexact], q[inexact], scale[inexact], offset[inexact], err[inexact], refit_rounds)
    return q.astype(np.uint8), scale.astype(np.float32), offset.astype(np.float32), err


def _refit(x: np.ndarray, q: np.ndarray, scale: np.ndarray, offset: np.ndarray, err: np.ndarray,
           rounds: int) -> tuple[np.ndarray, ...]:
    """Least squares for x ~ s*q + m with q fixed, then re-round q; a block keeps whichever fits better."""
    x = x.astype(np.float64)
    err = err.astype(np.float64)
    for _ in range(rounds):
        qm, xm = q.mean(-1), x.mean(-1)
        dq = q - qm[..., None]
        var = np.square(dq).sum(-1)
        s2 = np.where(var > 0, (dq * (x - xm[..., None])).sum(-1) / np.where(var > 0, var, 1), scale)
        s2 = np.where(s2 > 0, s2, scale)
        m2 = xm - s2 * qm
        q2 = np.clip(np.rint((x - m2[..., None]) / s2[..., None]), 0, 15)
        err2 = np.square(s2[..., None] * q2 + m2[..., None] - x).sum(-1)
        better = err2 < err * (1 - 1e-9)
        scale, offset = np.where(better, s2, scale), np.where(better, m2, offset)
        q, err = np.where(better[..., None], q2, q), np.where(better, err2, err)
    return q, scale, offset, err


def quantize_blocks_sym8(w: np.ndarray, block_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """``w`` [N, K] -> q [N, K] uint8 (stored +128: the default zero point), scale [N, K/bs]."""
    n, k = w.shape
    x = w.reshape(n, k // block_size, block_size).astype(np.float32)
    scale = np.abs(x).max(-1) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    q = np.clip(np.rint(x / scale[..., None]), -127, 127) + 128
    return q.astype(np.uint8).reshape(n, k), scale


def pack_nibbles(q: np.ndarray) -> np.ndarray:
    return (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)


class _Rewriter:
    def __init__(self, model: Any, block_size: int, accuracy_level: int) -> None:
        from onnx import numpy_helper

        self.model = model
        self.bs = block_size
        self.acc = accuracy_level
        self.inits = {i.name: i for i in model.graph.initializer}
        self.to_array = numpy_helper.to_array
        self.from_array = numpy_helper.from_array
        self.new_inits: list[Any] = []
        self.dropped: set[str] = set()
        self.blocksums: dict[str, str] = {}
        self.head_q8: dict[str, tuple[str, str]] = {}
        self.stats = OffsetQuantStats()
        self._err = [0.0, 0.0]

    def add(self, array: np.ndarray, name: str) -> str:
        self.new_inits.append(self.from_array(array, name))
        return name

    def matmul_weight(self, node: Any) -> np.ndarray | None:
        if node.op_type != "MatMul" or len(node.input) != 2 or node.input[1] not in self.inits:
            return None
        w = self.to_array(self.inits[node.input[1]])
        if w.ndim != 2 or w.dtype != np.float32 or w.shape[0] % self.bs:
            return None
        return w

    def head_8bit(self, node: Any, w_kn: np.ndarray) -> list[Any]:
        from onnx import helper

        k, n = w_kn.shape
        base = node.input[1]
        q, scale = quantize_blocks_sym8(np.ascontiguousarray(w_kn.T), self.bs)
        qname = self.add(q.reshape(n, k // self.bs, self.bs), base + "_Q8")
        sname = self.add(scale, base + "_scales")
        self.head_q8[base] = (qname, sname)
        self.dropped.add(base)
        self.stats.tensors_8bit += 1
        return [helper.make_node("MatMulNBits", [node.input[0], qname, sname], list(node.output), name=node.name + "_Q8",
                                 domain=MS_DOMAIN, K=k, N=n, bits=8, block_size=self.bs, accuracy_level=self.acc)]

    def offset_4bit(self, node: Any, w_kn: np.ndarray) -> list[Any]:
        from onnx import helper

        k, n = w_kn.shape
        nb = k // self.bs
        base = node.input[1]
        w = w_kn.T
        q, scale, offset, err = quantize_blocks_offset4(w, self.bs)
        self._err[0] += float(err.sum(dtype=np.float64))
        self._err[1] += float(np.square(w).sum(dtype=np.float64))
        self.stats.blocks += n * nb
        self.stats.exact_blocks += int((err <= 1e-10 * np.square(scale) * self.bs).sum())
        self.stats.tensors_4bit += 1
        self.dropped.add(base)
        qname = self.add(pack_nibbles(q), base + "_Q4")
        sname = self.add(scale.reshape(-1), base + "_scales")
        nodes = []
        x = node.input[0]
        if (x, k) not in self.blocksums:
            shape = self.add(np.array([0, 0, nb, self.bs], dtype=np.int64), f"{base}_blockshape")
            axes = self.add(np.array([-1], dtype=np.int64), f"{base}_blockaxes")
            blocks, sums = f"{x}/slmw_blocks", f"{x}/slmw_blocksum"
            nodes.append(helper.make_node("Reshape", [x, shape], [blocks], name=f"{node.name}/BlockReshape"))
            nodes.append(helper.make_node("ReduceSum", [blocks, axes], [sums], name=f"{node.name}/BlockSum", keepdims=0))
            self.blocksums[(x, k)] = sums  # type: ignore[index]
        sums = self.blocksums[(x, k)]  # type: ignore[index]
        y = node.output[0]
        nodes.append(helper.make_node("MatMulNBits", [x, qname, sname], [y + "/slmw_main"], name=node.name + "_Q4",
                                      domain=MS_DOMAIN, K=k, N=n, bits=4, block_size=self.bs, accuracy_level=self.acc))
        # the offsets themselves go to 8-bit blocks: their error (~1/34 of a weight step) is far below
        # the 4-bit step, and they take a quarter of the memory a float matrix would
        c_nk = np.pad(offset + 8.0 * scale, ((0, 0), (0, (-nb) % self.bs)))
        cq, cs = quantize_blocks_sym8(c_nk, self.bs)
        cq_name = self.add(cq.reshape(n, -1, self.bs), base + "_blockoffset_Q8")
        cs_name = self.add(cs.reshape(-1), base + "_blockoffset_scales")
        nodes.append(helper.make_node("MatMulNBits", [sums, cq_name, cs_name], [y + "/slmw_offset"],
                                      name=node.name + "/BlockOffset_Q8", domain=MS_DOMAIN, K=nb, N=n, bits=8,
                                      block_size=self.bs, accuracy_level=self.acc))
        nodes.append(helper.make_node("Add", [y + "/slmw_main", y + "/slmw_offset"], [y], name=node.name + "/AddOffset"))
        return nodes

    def embedding(self, node: Any, producers: dict[str, Any], token_inputs: set[str]) -> list[Any] | None:
        """The token embedding Gather -> GatherBlockQuantized over 8-bit blocks (shared with a tied head)."""
        from onnx import helper

        if node.op_type != "Gather" or node.input[1] not in token_inputs:
            return None
        src = node.input[0]
        producer = producers.get(src)
        if producer is not None and producer.op_type == "Transpose" and producer.input[0] in self.head_q8:
            qname, sname = self.head_q8[producer.input[0]]
            flat = self.add(np.array([0, -1], dtype=np.int64), qname + "_2d_shape")
            return [
                helper.make_node("Reshape", [qname, flat], [qname + "_2d"], name=node.name + "/Q8Reshape"),
                helper.make_node("GatherBlockQuantized", [qname + "_2d", node.input[1], sname], list(node.output),
                                 name=node.name + "_Q8", domain=MS_DOMAIN, bits=8, block_size=self.bs,
                                 gather_axis=0, quantize_axis=1),
            ]
        if src not in self.inits:
            return None
        table = self.to_array(self.inits[src])
        if table.ndim != 2 or table.dtype != np.float32 or table.shape[1] % self.bs:
            return None
        q, scale = quantize_blocks_sym8(table, self.bs)
        self.dropped.add(src)
        self.stats.tensors_8bit += 1
        return [helper.make_node("GatherBlockQuantized", [self.add(q, src + "_Q8"), node.input[1],
                                 self.add(scale, src + "_scales")], list(node.output), name=node.name + "_Q8",
                                 domain=MS_DOMAIN, bits=8, block_size=self.bs, gather_axis=0, quantize_axis=1)]


def quantize_offset4(
    src: Path,
    dst: Path,
    *,
    block_size: int = 32,
    accuracy_level: int = 4,
    on_progress: ProgressFn = lambda message, done, total: None,
    check_cancelled: Callable[[], None] = lambda: None,
) -> OffsetQuantStats:
    """Rewrite the fp32 GenAI folder ``src`` into ``dst`` (int4 body with offsets, 8-bit head)."""
    import onnx
    from onnx import helper

    on_progress("loading the fp32 graph", 0, 1)
    model = onnx.load(str(src / "model.onnx"))
    rw = _Rewriter(model, block_size, accuracy_level)
    graph_outputs = {o.name for o in model.graph.output}
    nodes = list(model.graph.node)
    producers = {out: n for n in nodes for out in n.output}
    rewritten: list[Any] = []
    total = sum(1 for n in nodes if n.op_type == "MatMul")
    done = 0
    for node in nodes:
        w = rw.matmul_weight(node)
        if w is None:
            rewritten.append(node)
            continue
        check_cancelled()
        is_head = any(o in graph_outputs for o in node.output) or node.name.startswith("/lm_head")
        rewritten.extend(rw.head_8bit(node, w) if is_head else rw.offset_4bit(node, w))
        done += 1
        on_progress(f"quantizing {node.name}", done, total)
    final: list[Any] = []
    token_inputs = {i.name for i in model.graph.input if i.name == "input_ids"}
    for node in rewritten:
        replacement = rw.embedding(node, producers, token_inputs)
        if replacement is not None:
            final.extend(replacement)
        else:
            final.append(node)
    used = {i for n in final for i in n.input}
    final = [n for n in final if not (n.op_type == "Transpose" and n.input[0] in rw.dropped and not (set(n.output) & used))]
    still_used = {i for n in final for i in n.input}
    leaking = rw.dropped & still_used
    kept = [i for i in model.graph.initializer if i.name not in rw.dropped or i.name in leaking]
    del model.graph.node[:]
    model.graph.node.extend(final)
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept + rw.new_inits)
    if not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    rw.stats.weight_rel_error = (rw._err[0] / rw._err[1]) ** 0.5 if rw._err[1] else 0.0
    on_progress("saving", total, total)
    dst.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="model.onnx.data", size_threshold=1024)
    for item in src.iterdir():
        if item.is_file() and not item.name.startswith("model.onnx"):
            shutil.copy2(item, dst / item.name)
    return rw.stats
