"""``int4-hq``: 4-bit blocks with an exact offset, folded into MatMulNBits' fast CPU kernel.

Why a pass of our own: a block quantized as ``w = scale * q + offset`` (llama.cpp's Q4_1,
q in 0..15) is what min/max asymmetric quantization gives, and it is exact for weights that
were themselves Q4_1 (SmolLM2 here is dequantized from a Q4_1 GGUF). MatMulNBits can hold
the offset as a float zero point, but onnxruntime 1.31 then leaves its fast kernel for a
dequantize-every-call path (50x slower on this CPU); with uint8 zero points the offset
must be a whole number of steps, which costs as much as plain RTN. The algebra::

    X @ W = MatMulNBits_sym(X; q, scale)    # no zero point: the kernel's fast path (q - 8)
          + blocksum(X) @ C                 # C[n, b] = offset[n, b] + 8 * scale[n, b]

and the second term is folded into the first by augmenting K: each MatMul becomes ONE
symmetric 4-bit MatMulNBits over ``Concat(X, sums, sums)``, ``sums`` being the block sums of
X (Reshape, ReduceSum, Pad to a whole block; shared by the MatMuls that read the same X),
whose extra weight blocks hold C twice: C_hi, C in 4-bit symmetric blocks of 32 along b, and
C_lo, the residual C - C_hi the same way. Together they keep C to ~1/200 of its largest value
per block (~8 bits); on SmolLM2 the effective weights are within 0.27% (relative L2) of the
fp32 ones. For K = 576 the augmented K is 640, for K = 1536 it is 1664 (+8-11% 4-bit MACs).
The tied embedding / lm_head goes to 8-bit symmetric blocks (MatMulNBits + GatherBlockQuantized
sharing one copy), as llama.cpp's Q4_1 file keeps it (Q8_0): 4 bits there costs ~8% perplexity.

Scales and offsets start from each block's min/max and are refined by a least-squares refit
(kept only where it lowers the error), so weights that did not come from Q4_1 also get a
good fit. The input is the builder's fp32 graph; the output is a complete GenAI folder.

Speed (one thread): the Reshape, ReduceSum, Pad and Concat per distinct input (4 inputs a
layer) take ~2 us a set; a MatMul by a 0/1 indicator matrix for the sums and a Concat take ~8.
A decode step of the graph alone went from ~19.6 ms with the previous design (a second, 8-bit
MatMulNBits for blocksum(X) @ C and an Add per MatMul) to ~18.0 ms; the builder's int4 takes
~14-16. What is left is mostly the 8-bit lm_head (~2 ms a step: 28M weights, a fifth of the
model's MACs) and the +8-11% MACs. Dropping C_lo saves ~3% of a step but costs ~7% perplexity.
Figures: bench/variants.py.
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
    """Relative L2 error of all 4-bit weights together, as the folded graph holds them (C's rounding included)."""

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


def quantize_blocks_sym4(x: np.ndarray, block_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """``x`` [N, M] -> q [N, M] in 1..15 (``q - 8`` is the value in steps: MatMulNBits' default zero point), scale
    [N, M/bs]."""
    n, m = x.shape
    b = x.reshape(n, m // block_size, block_size).astype(np.float32)
    scale = np.abs(b).max(-1) / np.float32(7.0)
    scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
    q = np.clip(np.rint(b / scale[..., None]), -7, 7) + 8
    return q.astype(np.uint8).reshape(n, m), scale


def dequantize_sym4(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    n, m = q.shape
    return ((q.astype(np.float32) - 8.0).reshape(n, scale.shape[1], -1) * scale[..., None]).reshape(n, m)


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
        self.augmented: dict[str, str] = {}
        self.nodes: list[Any] = []
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

    def augmented_input(self, x: str, k: int, nbp: int) -> str:
        """``[x, sums, sums]``: x and its block sums twice (for C_hi, then C_lo), each zero-padded to ``nbp``.

        Reshape + ReduceSum + Pad + Concat: ~2 us per input on this CPU, where a MatMul by a 0/1 indicator matrix
        and a Concat take ~8."""
        from onnx import helper

        if x not in self.augmented:
            nb = k // self.bs
            shape = self.add(np.array([0, 0, nb, self.bs], dtype=np.int64), f"{x}/slmw_blockshape")
            axes = self.add(np.array([-1], dtype=np.int64), f"{x}/slmw_blockaxes")
            pads = self.add(np.array([0, 0, 0, 0, 0, nbp - nb], dtype=np.int64), f"{x}/slmw_blockpads")
            blocks, sums, padded, aug = (f"{x}/slmw_blocks", f"{x}/slmw_blocksums", f"{x}/slmw_blocksums_padded",
                                         f"{x}/slmw_augmented")
            self.nodes += [
                helper.make_node("Reshape", [x, shape], [blocks], name=f"{x}/BlockReshape"),
                helper.make_node("ReduceSum", [blocks, axes], [sums], name=f"{x}/BlockSums", keepdims=0),
                helper.make_node("Pad", [sums, pads], [padded], name=f"{x}/BlockSumsPad"),
                helper.make_node("Concat", [x, padded, padded], [aug], name=f"{x}/Augment", axis=-1),
            ]
            self.augmented[x] = aug
        return self.augmented[x]

    def folded_4bit(self, node: Any, w_kn: np.ndarray,
                    fitted: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> list[Any]:
        """One symmetric MatMulNBits over ``[x, blocksums, blocksums]`` (see the module docstring); ``fitted``:
        q [N, K/bs, bs], scale and offset [N, K/bs] found elsewhere (GPTQ), else the min/max + refit here."""
        from onnx import helper

        k, n = w_kn.shape
        nb = k // self.bs
        nbp = -(-nb // self.bs) * self.bs
        base = node.input[1]
        w = w_kn.T
        if fitted is None:
            q, scale, offset, err = quantize_blocks_offset4(w, self.bs)
        else:
            q, scale, offset = fitted
            err = np.square(scale[..., None] * q + offset[..., None] - w.reshape(n, nb, self.bs)).sum(-1)
        c = np.pad(offset + 8.0 * scale, ((0, 0), (0, nbp - nb)))
        c_hi, s_hi = quantize_blocks_sym4(c, self.bs)
        c_lo, s_lo = quantize_blocks_sym4(c - dequantize_sym4(c_hi, s_hi), self.bs)
        c_eff = dequantize_sym4(c_hi, s_hi) + dequantize_sym4(c_lo, s_lo)
        w_eff = scale[..., None] * (q.astype(np.float32) - 8.0) + c_eff[:, :nb, None]
        self._err[0] += float(np.square(w_eff.reshape(n, k) - w, dtype=np.float64).sum())
        self._err[1] += float(np.square(w, dtype=np.float64).sum())
        self.stats.blocks += n * nb
        self.stats.exact_blocks += int((err <= 1e-10 * np.square(scale) * self.bs).sum())
        self.stats.tensors_4bit += 1
        self.dropped.add(base)
        q_aug = np.concatenate([q.reshape(n, k), c_hi, c_lo], axis=1).reshape(n, -1, self.bs)
        s_aug = np.concatenate([scale, s_hi, s_lo], axis=1)
        qname = self.add(pack_nibbles(q_aug), base + "_Q4")
        sname = self.add(s_aug.reshape(-1), base + "_scales")
        self.nodes = []
        x_aug = self.augmented_input(node.input[0], k, nbp)
        return self.nodes + [helper.make_node("MatMulNBits", [x_aug, qname, sname], list(node.output),
                                              name=node.name + "_Q4", domain=MS_DOMAIN, K=k + 2 * nbp, N=n, bits=4,
                                              block_size=self.bs, accuracy_level=self.acc)]

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
        if producer is not None and producer.op_type == "Transpose" and producer.input[0] in self.inits:
            table = self.to_array(self.inits[producer.input[0]]).T  # a tied head quantized otherwise
        elif src in self.inits:
            table = self.to_array(self.inits[src])
        else:
            return None
        if table.ndim != 2 or table.dtype != np.float32 or table.shape[1] % self.bs:
            return None
        q, scale = quantize_blocks_sym8(np.ascontiguousarray(table), self.bs)
        self.dropped.add(src if src in self.inits else producer.input[0])
        self.stats.tensors_8bit += 1
        return [helper.make_node("GatherBlockQuantized", [self.add(q, src + "_Q8"), node.input[1],
                                 self.add(scale, src + "_scales")], list(node.output), name=node.name + "_Q8",
                                 domain=MS_DOMAIN, bits=8, block_size=self.bs, gather_axis=0, quantize_axis=1)]


def fold_offsets(model: Any, *, block_size: int = 32, accuracy_level: int = 4,
                 on_progress: ProgressFn = lambda message, done, total: None,
                 check_cancelled: Callable[[], None] = lambda: None) -> OffsetQuantStats:
    """Rewrite the fp32 ONNX ``model`` in place: MatMuls to folded 4-bit ones, the tied embedding / head to 8 bits."""
    rw = _Rewriter(model, block_size, accuracy_level)
    graph_outputs = {o.name for o in model.graph.output}
    nodes = list(model.graph.node)
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
        rewritten.extend(rw.head_8bit(node, w) if is_head else rw.folded_4bit(node, w))
        done += 1
        on_progress(f"quantizing {node.name}", done, total)
    finish_rewrite(model, rw, nodes, rewritten)
    rw.stats.weight_rel_error = (rw._err[0] / rw._err[1]) ** 0.5 if rw._err[1] else 0.0
    return rw.stats


def finish_rewrite(model: Any, rw: _Rewriter, nodes: list[Any], rewritten: list[Any]) -> None:
    """Put ``rewritten`` (the MatMuls replaced) in ``model``: the token embedding to 8 bits, the fp32 weights
    replaced dropped (unless something still reads them), the com.microsoft opset declared."""
    from onnx import helper

    producers = {out: n for n in nodes for out in n.output}
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


def quantize_offset4(
    src: Path,
    dst: Path,
    *,
    block_size: int = 32,
    accuracy_level: int = 4,
    on_progress: ProgressFn = lambda message, done, total: None,
    check_cancelled: Callable[[], None] = lambda: None,
) -> OffsetQuantStats:
    """Rewrite the fp32 GenAI folder ``src`` into ``dst`` (folded int4 body, 8-bit embedding/head)."""
    import onnx

    on_progress("loading the fp32 graph", 0, 1)
    model = onnx.load(str(src / "model.onnx"))
    stats = fold_offsets(model, block_size=block_size, accuracy_level=accuracy_level, on_progress=on_progress,
                         check_cancelled=check_cancelled)
    on_progress("saving", 1, 1)
    dst.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="model.onnx.data", size_threshold=1024)
    for item in src.iterdir():
        if item.is_file() and not item.name.startswith("model.onnx"):
            shutil.copy2(item, dst / item.name)
    return stats
