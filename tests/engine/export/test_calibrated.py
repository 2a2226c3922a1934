"""The int4-cal pass: GPTQ beats rounding where the inputs are correlated, the graph holds packed 4-bit zero
points, runs, and stays close to fp32; calibration text comes from the data given, in 256-token sequences."""

from __future__ import annotations

import json

import numpy as np
import pytest

from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.export.calibrated import (
    CALIBRATION_LENGTH,
    calibration_ids,
    gptq_blocks,
    pack_zero_points,
    quantize_calibrated,
)


def output_error(w, q, scale, zp, h, bs=32):
    zero = 8.0 if zp is None else np.repeat(zp, bs, axis=1).astype(np.float64)
    e = np.repeat(scale, bs, axis=1) * (q.astype(np.float64) - zero) - w
    return float(np.trace(e @ h @ e.T) / np.trace(w @ h @ w.T))


@pytest.mark.parametrize("symmetric", [False, True])
def test_gptq_beats_round_to_nearest_where_inputs_are_correlated(symmetric):
    import torch

    rng = np.random.default_rng(0)
    w = rng.standard_normal((48, 128)).astype(np.float32)
    x = rng.standard_normal((512, 8)) @ rng.standard_normal((8, 128)) + 0.1 * rng.standard_normal((512, 128))
    h = (x.T @ x).astype(np.float32)
    q, scale, zp, rel = gptq_blocks(torch.from_numpy(w), torch.from_numpy(h), symmetric=symmetric)
    assert q.dtype == np.uint8 and q.min() >= 0 and q.max() <= 15 and scale.shape == (48, 4)
    assert (zp is None) == symmetric
    assert rel == pytest.approx(output_error(w, q, scale, zp, h), rel=1e-3)
    # the same grid without the Hessian (identity: no error is carried to later columns) is round-to-nearest
    q0, s0, z0, rel0 = gptq_blocks(torch.from_numpy(w), torch.eye(128), symmetric=symmetric)
    assert output_error(w, q, scale, zp, h) < 0.5 * output_error(w, q0, s0, z0, h)


def test_offset_grid_keeps_q41_blocks_exact_whatever_the_inputs():
    """int4-hq-cal: a block already on a Q4_1 grid has no rounding error, so GPTQ has nothing to carry on."""
    import torch

    from tests.engine.export.test_offset_quant import q41_weights

    rng = np.random.default_rng(1)
    w = q41_weights(rng, 32, 128)
    x = rng.standard_normal((256, 128))
    q, scale, zp, rel = gptq_blocks(torch.from_numpy(w), torch.from_numpy((x.T @ x).astype(np.float32)), offsets=True)
    assert zp.dtype == np.float32 and rel < 1e-10
    back = np.repeat(scale, 32, axis=1) * (q - np.repeat(zp, 32, axis=1))
    assert np.abs(back - w).max() < 1e-5


def test_zero_points_are_packed_two_blocks_a_byte_low_nibble_first():
    zp = np.array([[1, 2, 3], [15, 0, 7]], dtype=np.uint8)
    assert pack_zero_points(zp).tolist() == [[0x21, 0x83], [0x0F, 0x87]]  # odd count: padded with the default 8


def test_calibration_ids_are_the_data_rendered_in_sequences(tiny_model_dir, tmp_path):
    seqs = calibration_ids(tiny_model_dir, "slmw:demo", 3)
    assert len(seqs) == 3 and all(len(s) == CALIBRATION_LENGTH for s in seqs)
    data = tmp_path / "few.jsonl"
    data.write_text(json.dumps({"prompt": "Two plus two?", "completion": "Four."}) + "\n")
    (short,) = calibration_ids(tiny_model_dir, data, 8)  # the data runs out: one shorter sequence
    assert 5 < len(short) < CALIBRATION_LENGTH
    with pytest.raises(WorkbenchError, match="no such file"):
        calibration_ids(tiny_model_dir, tmp_path / "missing.jsonl", 2)


@pytest.mark.parametrize(("symmetric", "head_bits", "offsets"),
                         [(False, 8, False), (True, 4, False), (False, 8, True), (False, 4, ("gate_proj", "up_proj"))])
def test_calibrated_tiny_model_runs_close_to_fp32(tiny_model_dir, tiny_variants, tmp_path, symmetric, head_bits,
                                                  offsets):
    import onnx

    from slm_workbench.engine.measure.backends import GenaiBackend
    from slm_workbench.engine.export.export import verify_variant

    out = tmp_path / "cal"
    seqs = calibration_ids(tiny_model_dir, "slmw:demo", 4)
    mixed = isinstance(offsets, tuple)  # int4-mix-cal: offsets on the MLP's gate/up only
    stats = quantize_calibrated(tiny_variants["fp32"], out, sequences=seqs, symmetric=symmetric, head_bits=head_bits,
                                offsets=offsets is True, offsets_in=offsets if mixed else ())
    assert stats.sequences == 4 and stats.tokens == 4 * CALIBRATION_LENGTH
    assert (stats.tensors_4bit, stats.tensors_8bit) == ((10, 1) if head_bits == 8 else (11, 1))
    verify_variant(out)
    graph = onnx.load(str(out / "model.onnx"), load_external_data=False).graph
    ops = [n.op_type for n in graph.node]
    assert "MatMul" not in ops and "GatherBlockQuantized" in ops
    four = [n for n in graph.node if n.op_type == "MatMulNBits" and {a.name: a.i for a in n.attribute}["bits"] == 4]
    assert len(four) == stats.tensors_4bit
    if mixed:  # gate and up read one input: one set of block sums a layer, folded; zero points elsewhere
        folded = [n for n in four if len(n.input) == 3]
        assert {n.name.split("/")[-2] for n in folded} == {"gate_proj", "up_proj"} and len(folded) == 2 * 2
        assert all(len(n.input) == 4 for n in four if n not in folded) and ops.count("Concat") == 2
    elif offsets:  # int4-hq's folded graph: symmetric MatMulNBits over [x, block sums, block sums]
        assert all(len(n.input) == 3 for n in four) and ops.count("Concat") == 2 * 4
    else:
        assert all(len(n.input) == (3 if symmetric else 4) for n in four) and "Concat" not in ops
    assert not [i.name for i in graph.initializer if i.name.endswith("MatMul.weight")]  # no fp32 weight is left
    ids = list(range(100, 164))
    ref = GenaiBackend(tiny_variants["fp32"]).nll(ids, 32)
    got = GenaiBackend(out).nll(ids, 32)
    assert np.exp(got.mean()) == pytest.approx(np.exp(ref.mean()), rel=0.05)
