"""The int4-hq pass: exact on Q4_1 blocks, a good fit elsewhere, and a graph that runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from slm_workbench.engine.export.offset_quant import (
    pack_nibbles,
    quantize_blocks_offset4,
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


def test_rewritten_tiny_model_matches_fp32(tiny_variants, tmp_path):
    import onnx

    from slm_workbench.engine.compare.backends import GenaiBackend

    out = tmp_path / "hq"
    stats = quantize_offset4(tiny_variants["fp32"], out)
    assert stats.tensors_4bit == 2 * 5 and stats.tensors_8bit == 1  # 2 layers x (qkv, o, gate, up, down); tied head
    assert 0 < stats.weight_rel_error < 0.15
    ops = {n.op_type for n in onnx.load(str(out / "model.onnx"), load_external_data=False).graph.node}
    assert {"MatMulNBits", "GatherBlockQuantized", "ReduceSum"} <= ops and "MatMul" not in ops
    assert json.loads((out / "genai_config.json").read_text())["model"]["type"] == "llama"
    ids = list(range(100, 164))
    ref = GenaiBackend(tiny_variants["fp32"]).nll(ids, 32)
    got = GenaiBackend(out).nll(ids, 32)
    assert np.exp(got.mean()) == pytest.approx(np.exp(ref.mean()), rel=0.02)
