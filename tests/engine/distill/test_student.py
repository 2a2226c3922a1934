"""The keep_layers student: which layers, bit-identical weights, a loadable folder, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.engine.distill.student import cut_layers, estimate_student, kept_layers, read_student
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.train.teacher import teacher_folder, teacher_tokenizer_folder


def test_kept_layers_are_evenly_spaced_with_first_and_last() -> None:
    assert kept_layers(30, 10) == [0, 3, 6, 10, 13, 16, 19, 23, 26, 29]
    assert kept_layers(30, 6) == [0, 6, 12, 17, 23, 29]
    assert kept_layers(30, 2) == [0, 29]
    assert kept_layers(30, 1) == [0]
    assert kept_layers(6, 3) == [0, 2, 5]
    for keep in range(1, 30):
        got = kept_layers(30, keep)
        assert len(got) == keep and got == sorted(got) and (keep == 1 or got[-1] == 29) and got[0] == 0


def test_keep_layers_not_below_the_teacher_is_one_clear_line(tiny_deep_model_dir: Path, tmp_path: Path) -> None:
    for keep in (6, 40):
        with pytest.raises(WorkbenchError, match=f"keep_layers {keep} is not below the teacher's 6 layers") as err:
            cut_layers(tiny_deep_model_dir, keep, tmp_path / "student")
        assert "\n" not in str(err.value)
    assert not (tmp_path / "student").exists()


def test_a_model_without_model_layers_is_refused(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    (tmp_path / "config.json").write_text(json.dumps({"n_layer": 2, "vocab_size": 10, "hidden_size": 4}))
    save_file({"transformer.h.0.attn.weight": torch.zeros(4, 4)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(WorkbenchError, match=r"decoder layers are model\.layers\.N\. .* num_hidden_layers"):
        cut_layers(tmp_path, 1, tmp_path / "student")


def test_cut_copies_the_chosen_layers_bit_for_bit_and_loads(tiny_deep_model_dir: Path, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "student"
    seen: list[str] = []
    info = cut_layers(tiny_deep_model_dir, 3, out, on_progress=seen.append)
    assert info.kept == [0, 2, 5] and info.teacher_layers == 6 and seen
    teacher = AutoModelForCausalLM.from_pretrained(tiny_deep_model_dir)
    student = AutoModelForCausalLM.from_pretrained(out)
    assert student.config.num_hidden_layers == 3 and len(student.model.layers) == 3
    t_state, s_state = teacher.state_dict(), student.state_dict()
    for new, old in enumerate(info.kept):
        prefix_t, prefix_s = f"model.layers.{old}.", f"model.layers.{new}."
        names = [k[len(prefix_t):] for k in t_state if k.startswith(prefix_t)]
        assert names
        for name in names:
            assert torch.equal(t_state[prefix_t + name], s_state[prefix_s + name]), name
    for name in ("model.embed_tokens.weight", "model.norm.weight"):
        assert torch.equal(t_state[name], s_state[name])
    assert student.lm_head.weight.data_ptr() == student.model.embed_tokens.weight.data_ptr()  # tied stays tied
    assert info.params == sum(p.numel() for p in student.parameters())
    assert [layer.self_attn.layer_idx for layer in student.model.layers] == [0, 1, 2]
    tokenizer = AutoTokenizer.from_pretrained(out)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)["input_ids"]
    with torch.no_grad():
        logits = student(ids).logits
        generated = student.generate(ids, max_new_tokens=4, do_sample=False)  # the KV cache indexes the new layers
    assert torch.isfinite(logits).all() and generated.shape[1] == ids.shape[1] + 4
    assert (out / "tokenizer.json").read_bytes() == (tiny_deep_model_dir / "tokenizer.json").read_bytes()
    assert tokenizer.chat_template and not list(out.glob("*.bin")) and (out / "generation_config.json").is_file()
    lineage = read_student(out)
    assert lineage["kept"] == [0, 2, 5] and lineage["teacher_layers"] == 6
    assert lineage["teacher_folder"] == str(tiny_deep_model_dir.resolve())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial folder left
    again = cut_layers(tiny_deep_model_dir, 3, out, on_progress=seen.append)  # a resumed phase reuses it
    assert again.kept == info.kept and "already cut" in seen[-1]
    assert estimate_student(tiny_deep_model_dir, 3).params == info.params


def test_estimate_counts_the_head_smollm2(smollm2_dir: Path) -> None:
    """SmolLM2-135M: 30 layers of 3.54M MACs and a tied 49152x576 head of 28.3M."""
    full = estimate_student(smollm2_dir, 10)
    assert full.head_macs_per_token == 49152 * 576
    assert full.teacher_macs_per_token == 30 * 3_538_944 + 49152 * 576
    assert full.macs_per_token == 10 * 3_538_944 + 49152 * 576
    assert 2.0 < full.speedup_bound < 2.2
    assert 134e6 < full.teacher_params < 135e6 and full.params < 70e6
    assert estimate_student(smollm2_dir, 4).speedup_bound < 3.5  # the head caps the gain


def test_teacher_folder_of_a_model_reference(tiny_model_dir: Path) -> None:
    assert teacher_folder(str(tiny_model_dir)) == tiny_model_dir.resolve()
    assert teacher_tokenizer_folder(str(tiny_model_dir)) == tiny_model_dir.resolve()
