"""The int4-hq pass: exact on Q4_1 blocks, a good fit elsewhere, offsets folded into one MatMulNBits that
computes what the weights say, and a graph that runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from slm_workbench.engine.export.offset_quant import (
    dequantize_sym4,
    fold_offsets,
    pack_nibbles,
    quantize_blocks_offset4,
    quantize_blocks_sym4,
    quantize_blocks_sym8,
    quantize_offset4,
)


def q41_weights(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Weights as llama.cpp Q4_1 leaves them: per block of 32, scale * q + min, q in 0..15 (0 and 15 used)."""
    q = rng.integers(0, 16, size=(n, k // 32, 32))
    q[..., 0], q[..., 1] = 0, 15
    scale = rng.uniform(0.001, 0.05, size=(n, k // 32, 1))
    low = rng.uniform(-0.4, 0.0, size=(n, k // 32, 1))
    return (scale * q + low).astype(np.float32).reshape(n, k)


def test_q41_blocks_are_recovered_exactly():
    w = q41_weights(np.random.default_rng(0), 64, 128)
    q, scale, offset, err = quantize_blocks_offset4(w)
    assert err.max() < 1e-10
    back = (scale[..., None] * q + offset[..., None]).reshape(w.shape)
    assert np.abs(back - w).max() < 1e-6
    assert q.max() == 15 and q.min() == 0


def test_refit_beats_min_max_on_ordinary_weights():
    w = np.random.default_rng(1).standard_normal((256, 256)).astype(np.float32)
    q0, s0, m0, _ = quantize_blocks_offset4(w, refit_rounds=0)
    q2, s2, m2, _ = quantize_blocks_offset4(w, refit_rounds=2)
    err = lambda q, s, m: float(((s[..., None] * q + m[..., None]).reshape(w.shape) - w).__pow__(2).mean())  # noqa: E731
    assert err(q2, s2, m2) < 0.95 * err(q0, s0, m0)


def test_sym8_and_packing():
    w = np.random.default_rng(2).standard_normal((8, 64)).astype(np.float32)
    q, scale = quantize_blocks_sym8(w)
    back = ((q.astype(np.float32) - 128).reshape(8, 2, 32) * scale[..., None]).reshape(8, 64)
    assert np.abs(back - w).max() <= scale.max() / 2 + 1e-6
    packed = pack_nibbles(np.array([[1, 2, 15, 0]], dtype=np.uint8))
    assert packed.tolist() == [[0x21, 0x0F]]


def test_sym4_hi_lo_holds_offsets_to_about_8_bits():
    c = np.random.default_rng(3).uniform(-0.3, 0.3, size=(4, 64)).astype(np.float32)
    hi, s_hi = quantize_blocks_sym4(c)
    lo, s_lo = quantize_blocks_sym4(c - dequantize_sym4(hi, s_hi))
    assert hi.min() >= 1 and hi.max() <= 15
    back = dequantize_sym4(hi, s_hi) + dequantize_sym4(lo, s_lo)
    assert np.abs(back - c).max() <= np.abs(c).max() / 150


def one_matmul_model(w_nk: np.ndarray):
    from onnx import TensorProto, helper, numpy_helper

    n, k = w_nk.shape
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="/mm/MatMul"), helper.make_node("Identity", ["y"], ["out"])],
        "one", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, None, k])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, None, n])],
        [numpy_helper.from_array(np.ascontiguousarray(w_nk.T), "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)


def test_folded_matmul_equals_the_dequantized_weights():
    """One MatMulNBits over [x, blocksums, blocksums] computes x @ (s * (q - 8) + C) with C held as hi + lo."""
    import onnxruntime as ort
    from onnx import numpy_helper

    rng = np.random.default_rng(4)
    n, k = 48, 1536  # 48 blocks: the sums are padded to 64, twice
    w = q41_weights(rng, n, k)
    model = one_matmul_model(w)
    stats = fold_offsets(model, accuracy_level=1)  # fp32 activations: only the weights' error is left
    assert [node.op_type for node in model.graph.node] == ["Reshape", "ReduceSum", "Pad", "Concat", "MatMulNBits",
                                                        "Identity"]
    mmnb = model.graph.node[4]
    attrs = {a.name: a.i for a in mmnb.attribute}
    assert (attrs["K"], attrs["N"], attrs["bits"]) == (k + 128, n, 4) and len(mmnb.input) == 3  # symmetric: no zero points
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    packed, scales = inits[mmnb.input[1]], inits[mmnb.input[2]].reshape(n, -1)
    q = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(n, -1)
    w_aug = dequantize_sym4(q, scales)  # [N, K + 128]
    # the augmented weight folds back to a [N, K] weight: each block's C added to its 32 weights
    w_eff = w_aug[:, :k] + np.repeat(w_aug[:, k:k + 48] + w_aug[:, k + 64:k + 112], 32, axis=1)
    assert np.abs(w_aug[:, k + 48:k + 64]).max() == 0 and np.abs(w_aug[:, k + 112:]).max() == 0
    assert np.linalg.norm(w_eff - w) / np.linalg.norm(w) == pytest.approx(stats.weight_rel_error, rel=1e-3)
    assert stats.weight_rel_error < 0.01  # q and s exact (Q4_1 source); only C's ~8 bits are lost

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    x = rng.standard_normal((1, 3, k)).astype(np.float32)
    (y,) = session.run(None, {"x": x})
    want = x @ w_eff.T
    assert np.linalg.norm(y - want) / np.linalg.norm(want) < 1e-5
    assert np.linalg.norm(y - x @ w.T) / np.linalg.norm(x @ w.T) < 0.01


def test_rewritten_tiny_model_matches_fp32(tiny_variants, tmp_path):
    import onnx

    from slm_workbench.engine.measure.backends import GenaiBackend

    out = tmp_path / "hq"
    stats = quantize_offset4(tiny_variants["fp32"], out)
    assert stats.tensors_4bit == 2 * 5 and stats.tensors_8bit == 1  # 2 layers x (qkv, o, gate, up, down); tied head
    assert 0 < stats.weight_rel_error < 0.15
    graph = onnx.load(str(out / "model.onnx"), load_external_data=False).graph
    ops = {n.op_type for n in graph.node}
    assert {"MatMulNBits", "GatherBlockQuantized", "Concat", "ReduceSum"} <= ops and "MatMul" not in ops
    assert sum(n.op_type == "Concat" for n in graph.node) == 2 * 4  # one augmented input per distinct input per layer
    assert json.loads((out / "genai_config.json").read_text())["model"]["type"] == "llama"
    ids = list(range(100, 164))
    ref = GenaiBackend(tiny_variants["fp32"]).nll(ids, 32)
    got = GenaiBackend(out).nll(ids, 32)
    assert np.exp(got.mean()) == pytest.approx(np.exp(ref.mean()), rel=0.02)
