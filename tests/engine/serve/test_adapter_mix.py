"""Adapter compositions: one per batch's adapters, reused while kept, unloaded only when no batch uses them."""

from __future__ import annotations

import onnxruntime as ort

from slm_workbench.engine.adapters.base import ROW_MASK, read_lora_base
from slm_workbench.engine.adapters.lora import adapter_file
from slm_workbench.engine.serve.adapter_mix import AdapterMixes
from tests.engine.deploy.conftest import fp32_base, make_lora_run, two_runs  # noqa: F401 - fixtures


class Recorded:
    """Stands for ``og.Adapters``: what was loaded (read back from the file) and unloaded."""

    def __init__(self) -> None:
        self.loaded: dict[str, dict] = {}
        self.unloaded: list[str] = []

    def load(self, path: str, name: str) -> None:
        self.loaded[name] = {k: v.numpy().copy() for k, v in ort.AdapterFormat.read_adapter(path).get_parameters().items()}

    def unload(self, name: str) -> None:
        self.unloaded.append(name)
        del self.loaded[name]


def test_compositions_stack_the_adapters_and_mask_each_row(fp32_base, two_runs) -> None:  # noqa: F811
    first, second = (run.name for run in two_runs)  # rank 4 over q/v; rank 8 over every linear layer
    files = {first: adapter_file(first, fp32_base), second: adapter_file(second, fp32_base)}
    info = read_lora_base(fp32_base)
    recorded = Recorded()
    mixes = AdapterMixes(recorded, info["inputs"], info["row_mask"], keep=1)
    try:
        name = mixes.take([first, second, None], files)
        params = recorded.loaded[name]
        mask = params[ROW_MASK][:, 0, :]
        ranks = sorted([(first, 4), (second, 8)])  # stacked in key order
        width = {key: r for key, r in ranks}
        start = 0 if ranks[0][0] == first else width[second]
        assert mask.shape == (3, 12)
        assert mask[0].tolist() == [1.0 if start <= c < start + 4 else 0.0 for c in range(12)]
        assert mask[1].sum() == 8 and (mask[0] * mask[1]).sum() == 0 and mask[2].sum() == 0
        for input_name, (ab, _rows, _cols) in info["inputs"].items():
            assert params[input_name].shape[1 if ab == "A" else 0] == 12  # every layer, padded where one is absent
        assert mixes.take([first, second, None], files) == name and len(recorded.loaded) == 1  # reused
        other = mixes.take([first, None], files)  # a second one while the first is in use: both stay
        assert set(recorded.loaded) == {name, other} and not recorded.unloaded
        mixes.give_back(name)
        mixes.give_back(name)  # no batch uses it now: the oldest goes, past keep=1
        assert recorded.unloaded == [name] and set(recorded.loaded) == {other}
    finally:
        mixes.close()
    assert not mixes._dir.exists()
