"""Several LoRA runs over one loaded ONNX base answer as each adapter merged does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_workbench.engine.chat.types import GenParams, Message
from slm_workbench.engine.adapters.lora import adapter_choices, split_adapter_model
from slm_workbench.engine.errors import WorkbenchError

from .conftest import make_adapter, make_lora_run

PROMPT = [Message(role="user", content="Name three colours.")]
GREEDY = GenParams(max_new_tokens=12)


def merged_greedy(model_dir: Path, adapter: Path | None, prompt_ids: list[int]) -> list[int]:
    """Greedy token ids of the adapter merged into the base (PEFT merge_and_unload), in PyTorch fp32."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt_ids]), max_new_tokens=GREEDY.max_new_tokens, do_sample=False)
    return out[0, len(prompt_ids):].tolist()


def onnx_greedy(backend, adapter: str | None) -> list[int]:
    """Greedy token ids of the loaded base with ``adapter`` active ("" = the base alone; None = the target's)."""
    params = GenParams(max_new_tokens=GREEDY.max_new_tokens, adapter=adapter)
    return list(backend.generate_ids(backend.prompt_ids(PROMPT, params), params))


def test_two_adapters_answer_from_one_fp32_base_as_each_merged(fp32_base, two_runs, tiny_model_dir):
    from slm_workbench.engine.chat.og_backend import OnnxGenaiBackend

    first, second = two_runs
    backend = OnnxGenaiBackend(fp32_base)  # loaded once for every answer below
    prompt_ids = backend.prompt_ids(PROMPT, GREEDY)
    got = {name: onnx_greedy(backend, name) for name in ("", first.name, second.name)}
    got["again"] = onnx_greedy(backend, first.name)  # switching back leaves nothing of the other adapter behind
    expected = {
        "": merged_greedy(tiny_model_dir, None, prompt_ids),
        first.name: merged_greedy(tiny_model_dir, first / "artifacts" / "adapter", prompt_ids),
        second.name: merged_greedy(tiny_model_dir, second / "artifacts" / "adapter", prompt_ids),
    }
    assert len({tuple(v) for v in expected.values()}) == 3, "the adapters must change the answer for this test to mean anything"
    for name, ids in expected.items():
        assert got[name] == ids, name
    assert got["again"] == got[first.name]
    assert (first / "artifacts" / "onnx-adapter" / f"{tiny_model_dir.name}.onnx_adapter").is_file()


def test_an_adapter_trained_on_another_model_is_refused_naming_both(fp32_base, slmw_home, tiny_model_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from slm_workbench.engine.adapters.lora import adapter_file

    torch.manual_seed(7)  # the same architecture, other weights: only the fingerprint tells them apart
    other = tmp_path / "other-tiny"
    model = AutoModelForCausalLM.from_config(AutoModelForCausalLM.from_pretrained(tiny_model_dir).config)
    model.save_pretrained(other)
    run = make_lora_run(other, seed=3, r=4, targets=["q_proj"], title="lora other")
    with pytest.raises(WorkbenchError) as err:
        adapter_file(run.name, fp32_base)
    message = str(err.value)
    assert "\n" not in message and str(other) in message and str(tiny_model_dir.resolve()) in message
    assert not (run / "artifacts" / "onnx-adapter").exists()


def test_an_adapter_of_another_shape_is_refused_naming_the_layer(fp32_base, tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    from slm_workbench.engine.adapters.lora import adapter_file

    small = tmp_path / "small"
    LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                 num_attention_heads=4, num_key_value_heads=2)).save_pretrained(small)
    adapter = make_adapter(small, tmp_path / "small-adapter", seed=4, r=2, targets=["q_proj"])
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = None  # nothing to compare: the shapes must tell
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(WorkbenchError, match=r"trained on another model: its layer .*q_proj.*\[2, 32\]"):
        adapter_file(str(adapter), fp32_base)


def test_an_adapter_over_a_plain_variant_says_it_takes_none(fp32_base, two_runs, tmp_path):
    import shutil

    from slm_workbench.engine.chat.og_backend import OnnxGenaiBackend

    plain = tmp_path / "plain"
    shutil.copytree(fp32_base, plain, ignore=shutil.ignore_patterns("slmw_lora_base.json"))
    backend = OnnxGenaiBackend(plain)
    with pytest.raises(WorkbenchError, match="takes no adapters"):
        list(backend.stream(PROMPT, GenParams(max_new_tokens=2, adapter=two_runs[0].name)))


def test_base_plus_run_is_a_chat_target_and_the_picker_lists_the_runs(fp32_base, two_runs, slmw_home, tiny_model_dir):
    from slm_workbench.engine.chat.registry import open_backend

    variants = slmw_home / "variants" / tiny_model_dir.name
    variants.mkdir(parents=True)
    (variants / "lora-fp32").symlink_to(fp32_base, target_is_directory=True)
    first, second = two_runs
    spec = f"{tiny_model_dir}:lora-fp32+{first.name[-4:]}"
    backend = open_backend(spec)
    assert backend.label == spec and backend.default_adapter == first.name[-4:]
    assert onnx_greedy(backend, None) == onnx_greedy(backend, first.name)
    assert [run_id for run_id, _label in adapter_choices(fp32_base)] == sorted([first.name, second.name], reverse=True)


@pytest.mark.parametrize(("name", "bases", "expected"), [
    ("smollm2:lora-fp32+RUN1", None, ("smollm2:lora-fp32", "RUN1")),
    ("smollm2:lora-fp32", None, ("smollm2:lora-fp32", None)),
    ("smollm2:lora-int4:20250101-train-ab12", ["smollm2:lora-int4"], ("smollm2:lora-int4", "20250101-train-ab12")),
    ("smollm2:lora-int4", ["smollm2:lora-int4"], ("smollm2:lora-int4", None)),
    ("smollm2:int8", ["smollm2"], ("smollm2", "int8")),
    ("smollm2:int8", ["smollm2", "smollm2:int8"], ("smollm2:int8", None)),
])
def test_split_adapter_model(name, bases, expected):
    assert split_adapter_model(name, bases) == expected


def test_the_server_switches_adapters_per_request_over_one_loaded_base(fp32_base, two_runs, tmp_path):
    """``model = base:RUN`` in a request: the run's adapter answers over the one served base, as merged."""
    import httpx

    from slm_workbench.engine.serve.pool import ModelPool
    from tests.engine.serve.conftest import start

    first, second = two_runs
    pool = ModelPool.open([f"tiny-lora={fp32_base}"], threads=1, parallel=4)
    try:
        backend = pool.models["tiny-lora"].backend
        server, _log = start(pool, tmp_path)
        with server.in_thread():
            def ask(model: str) -> httpx.Response:
                return httpx.post(f"{server.url}/chat/completions", timeout=60, json={
                    "model": model, "messages": PROMPT, "max_tokens": GREEDY.max_new_tokens, "temperature": 0})

            answers = {name: ask(f"tiny-lora:{name}" if name else "tiny-lora") for name in ("", first.name, second.name)}
            missing = ask("tiny-lora:no-such-run")
        assert all(r.status_code == 200 for r in answers.values()), {k: r.text for k, r in answers.items()}
        texts = {name: r.json()["choices"][0]["message"]["content"] for name, r in answers.items()}
        for name in ("", first.name, second.name):  # the backend with that adapter answers as it merged (above)
            params = GenParams(max_new_tokens=GREEDY.max_new_tokens, adapter=name)
            assert texts[name] == "".join(d.text for d in backend.stream(PROMPT, params)), name
        assert len(set(texts.values())) == 3  # three different answers from one loaded base
        assert backend is pool.models["tiny-lora"].backend
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    finally:
        pool.close()


@pytest.mark.parametrize("targets", [["q_proj", "k_proj"], ["o_proj"], ["gate_proj", "up_proj"]])
def test_an_adapter_over_some_layers_answers_as_merged(fp32_base, tiny_model_dir, tmp_path, targets):
    """Layers the adapter leaves out stay at rank 0 beside its rank-8 layers: each LoRA layer has a rank
    of its own in the graph (one shared rank let ONNX Runtime reuse one layer's buffer for another's,
    and generation failed with "Shape mismatch attempting to re-use buffer")."""
    from slm_workbench.engine.chat.og_backend import OnnxGenaiBackend

    adapter = make_adapter(tiny_model_dir, tmp_path / "partial", seed=3, r=8, targets=targets)
    backend = OnnxGenaiBackend(fp32_base)
    prompt_ids = backend.prompt_ids(PROMPT, GREEDY)
    expected = merged_greedy(tiny_model_dir, adapter, prompt_ids)
    assert expected != merged_greedy(tiny_model_dir, None, prompt_ids), "the adapter must change the answer"
    assert onnx_greedy(backend, str(adapter)) == expected


def test_an_adapter_base_an_older_workbench_built_is_rebuilt_on_first_use(fp32_base, slmw_home, tiny_model_dir):
    """A base without ``format`` 2 has one LoRA rank for every layer (adapters over some layers fail in it)."""
    import shutil

    from slm_workbench.engine.adapters.base import LORA_BASE_FILE, LORA_BASE_FORMAT, lora_base_outdated
    from slm_workbench.engine.chat.og_backend import OnnxGenaiBackend
    from slm_workbench.engine.chat.registry import open_backend

    folder = slmw_home / "variants" / tiny_model_dir.name / "lora-fp32"
    shutil.copytree(fp32_base, folder)
    info = json.loads((folder / LORA_BASE_FILE).read_text())
    del info["format"]
    (folder / LORA_BASE_FILE).write_text(json.dumps(info))
    assert lora_base_outdated(folder)
    said: list[str] = []
    backend = open_backend(f"{tiny_model_dir}:lora-fp32", on_status=said.append)
    assert any("older workbench" in line for line in said), said
    assert json.loads((folder / LORA_BASE_FILE).read_text())["format"] == LORA_BASE_FORMAT
    assert onnx_greedy(backend, "") == onnx_greedy(OnnxGenaiBackend(fp32_base), "")
