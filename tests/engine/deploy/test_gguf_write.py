"""The workbench's GGUF writer, checked by reading its file back through transformers' GGUF loader
(what ``engine/models/gguf_convert.py`` converts with): the same logits prove the tensor names,
the layout and llama.cpp's Q/K permutation, without llama.cpp."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.engine.deploy.gguf import write as gguf_write
from slm_workbench.engine.deploy.gguf.write import gguf_origin, write_like_source
from slm_workbench.engine.errors import ModelFormatError
from tests.engine.deploy.gguf_fixtures import logits_of

IDS = [1, 17, 200, 31, 5, 99, 2, 64, 128, 255, 3]


def error(got, want) -> float:
    """The largest logit difference, relative to the largest logit."""
    return ((got - want).abs().max() / want.abs().max()).item()


def write(folder: Path, out: Path, qtype: str) -> dict:
    return write_like_source(folder, gguf_origin(folder), out, qtype, name="tiny", chat_template="{{ 'x' }}")


@pytest.mark.parametrize(("qtype", "tolerance"), [("f16", 1e-3), ("q8_0", 0.1)])
def test_round_trip_gives_the_same_logits(gguf_origin_dir, tmp_path, qtype, tolerance):
    out = tmp_path / f"tiny-{qtype}.gguf"
    details = write(gguf_origin_dir, out, qtype)
    want, got = logits_of(gguf_origin_dir, IDS), logits_of(out.parent, IDS, gguf_file=out.name)
    assert error(got, want) < tolerance  # 8-bit blocks: ~0.04 here; Q/K in the wrong order: > 1 (below)
    if qtype == "f16":
        assert (got.argmax(-1) == want.argmax(-1)).all()
    assert details["tensors"] == 2 * 9 + 2
    assert set(details["tensor_types"]) == {"F32", "F16" if qtype == "f16" else "Q8_0"}


def test_without_the_permutation_the_logits_differ(gguf_origin_dir, tmp_path, monkeypatch):
    """The round trip above can fail: writing Q/K in HF's order is caught by it."""
    monkeypatch.setattr(gguf_write, "permute", lambda weights, n_head: weights)
    out = tmp_path / "unpermuted.gguf"
    write(gguf_origin_dir, out, "f16")
    want, got = logits_of(gguf_origin_dir, IDS), logits_of(out.parent, IDS, gguf_file=out.name)
    assert error(got, want) > 0.1


def test_metadata_is_the_sources_with_the_new_type_name_and_template(gguf_origin_dir, tmp_path):
    import gguf

    out = tmp_path / "meta.gguf"
    write(gguf_origin_dir, out, "q8_0")
    new, old = gguf.GGUFReader(out), gguf.GGUFReader(gguf_origin(gguf_origin_dir))
    assert new.fields["general.file_type"].contents() == 7 and new.fields["general.name"].contents() == "tiny"
    assert new.fields["tokenizer.chat_template"].contents() == "{{ 'x' }}"
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.pre", "tokenizer.ggml.eos_token_id", "llama.block_count",
                "llama.attention.head_count_kv", "llama.rope.freq_base"):
        assert new.fields[key].contents() == old.fields[key].contents(), key
    assert [t.name for t in new.tensors] == [t.name for t in old.tensors]


def test_a_model_whose_shape_changed_is_refused(gguf_origin_dir, tmp_path):
    import shutil

    changed = tmp_path / "changed"
    shutil.copytree(gguf_origin_dir, changed)
    config = json.loads((changed / "config.json").read_text())
    (changed / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 1}))
    with pytest.raises(ModelFormatError, match="llama.block_count is 1, the GGUF says 2"):
        write(changed, tmp_path / "x.gguf", "f16")


def test_origin_is_read_from_the_provenance_file(gguf_origin_dir, tiny_model_dir):
    assert gguf_origin(gguf_origin_dir).name == "tiny-source.gguf"
    assert gguf_origin(tiny_model_dir) is None


@pytest.mark.e2e
def test_smollm2_f16_round_trip(smollm2_dir, tmp_path):
    """The real model: its f16 GGUF read back gives the fp32 model's logits within f16 rounding."""
    out = tmp_path / "smollm2-f16.gguf"
    write_like_source(smollm2_dir, gguf_origin(smollm2_dir), out, "f16", name="smollm2", chat_template=None)
    ids = [1, 504, 3458, 282, 4649, 314, 253, 1345, 30, 2, 5, 77, 923]
    want, got = logits_of(smollm2_dir, ids), logits_of(out.parent, ids, gguf_file=out.name)
    assert (got - want).abs().max().item() < 0.1
    assert (got.argmax(-1) == want.argmax(-1)).all()
