"""Multi-node training through torchrun: the command, the rendezvous checks, and two launches on this
machine (2 nodes x 1 process, gloo) against one launch of 2 processes: the same loss curve, and only
node 0's run directory holds metrics and checkpoints."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
from pydantic import ValidationError

from slm_workbench.config.train import TrainRecipe
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.runs.context import RunContext
from slm_workbench.engine.runs.launcher import start_recipe, stop_job
from slm_workbench.engine.runs.store import RunStore, read_events
from slm_workbench.engine.train.distributed import rank_env, torchrun_command
from slm_workbench.engine.train.preflight import preflight
from tests.helpers import read_jsonl, wait_for_state, wait_until


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def losses(run_dir: Path) -> dict[int, float]:
    return {row["step"]: row["loss"] for row in read_jsonl(run_dir / "metrics.jsonl") if "loss" in row}


def test_node_rank_below_num_nodes_and_an_endpoint_when_there_are_several() -> None:
    with pytest.raises(ValidationError, match="num_nodes > 1 needs rdzv_endpoint HOST:PORT"):
        TrainRecipe(data="slmw:demo", num_nodes=2)
    with pytest.raises(ValidationError, match="node_rank 2 is not below num_nodes 2"):
        TrainRecipe(data="slmw:demo", num_nodes=2, node_rank=2, rdzv_endpoint="10.0.0.1:29500")
    with pytest.raises(ValidationError, match="is not HOST:PORT"):
        TrainRecipe(data="slmw:demo", num_nodes=2, rdzv_endpoint="10.0.0.1")
    with pytest.raises(ValidationError, match="rdzv_id"):
        TrainRecipe(data="slmw:demo", num_nodes=2, rdzv_endpoint="10.0.0.1:29500", rdzv_id="two words")
    recipe = TrainRecipe(data="slmw:demo", num_nodes=2, node_rank=1, num_processes=4, rdzv_endpoint=" gpu0:29500 ")
    assert (recipe.rdzv_endpoint, recipe.world_size) == ("gpu0:29500", 8)


def test_torchrun_gets_the_static_rendezvous_for_several_nodes_and_standalone_for_one(tmp_path: Path) -> None:
    ctx = RunContext(tmp_path)
    one = torchrun_command(TrainRecipe(data="slmw:demo", num_processes=2), ctx)
    assert "--standalone" in one and "--nproc_per_node=2" in one
    several = torchrun_command(TrainRecipe(data="slmw:demo", num_nodes=3, node_rank=2, rdzv_endpoint="10.0.0.1:29500",
                                           rdzv_id="exp7"), ctx)
    assert "--standalone" not in several
    # static: the only torchrun backend that honours --node_rank, so node 0's local rank 0 is global rank 0
    for arg in ("--nnodes=3", "--node_rank=2", "--rdzv_backend=static", "--rdzv_endpoint=10.0.0.1:29500",
                "--rdzv_id=exp7", "--nproc_per_node=1"):
        assert arg in several, arg
    assert several[several.index("--rank") + 1] == str(tmp_path)


def test_the_ranks_do_not_inherit_a_shells_torchrun_variables(monkeypatch) -> None:
    monkeypatch.setenv("MASTER_ADDR", "elsewhere")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "old")
    env = rank_env(TrainRecipe(data="slmw:demo", num_nodes=2, rdzv_endpoint="127.0.0.1:29500", threads=2))
    assert not {"MASTER_ADDR", "RANK", "TORCHELASTIC_RUN_ID"} & set(env)
    assert env["OMP_NUM_THREADS"] == "2" and env["SLMW_RANK_CHILD"] == "1"


def test_preflight_refuses_a_taken_port_on_node_0_and_an_unknown_host(tiny_recipe) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        node0 = preflight(tiny_recipe(num_nodes=2, rdzv_endpoint=f"127.0.0.1:{port}"), has_cuda=False)
        assert node0.errors == [f"rdzv_endpoint 127.0.0.1:{port}: port {port} is in use on this machine, where node 0 "
                                "hosts the rendezvous — pick another port (the same on every node)"]
        node1 = preflight(tiny_recipe(num_nodes=2, node_rank=1, rdzv_endpoint=f"127.0.0.1:{port}"), has_cuda=False)
        assert node1.errors == []  # a worker node connects to the port, it does not bind it
    unknown = preflight(tiny_recipe(num_nodes=2, node_rank=1, rdzv_endpoint="no-such-host.invalid:29500"),
                        has_cuda=False)
    assert len(unknown.errors) == 1 and unknown.errors[0].startswith(
        "rdzv_endpoint no-such-host.invalid:29500: cannot resolve no-such-host.invalid")
    with pytest.raises(WorkbenchError, match="QLoRA needs a CUDA GPU"):  # the launch check: one line, nothing started
        start_recipe(tiny_recipe(method="qlora", num_nodes=2, rdzv_endpoint=f"127.0.0.1:{free_port()}"), title="q")
    assert RunStore().list() == []


def test_two_nodes_of_one_process_train_like_one_node_of_two(tiny_recipe) -> None:
    common = dict(max_steps=6, save_steps=3, eval_fraction=0.0, threads=1)
    reference = start_recipe(tiny_recipe(num_processes=2, **common), title="1x2")
    assert wait_for_state(reference, {"done", "failed"}, timeout=300).state == "done", \
        (reference / "worker.log").read_text()[-3000:]
    endpoint = f"127.0.0.1:{free_port()}"
    node0 = start_recipe(tiny_recipe(num_nodes=2, node_rank=0, rdzv_endpoint=endpoint, **common), title="2x1")
    node1 = start_recipe(tiny_recipe(num_nodes=2, node_rank=1, rdzv_endpoint=endpoint, **common), title="2x1")
    for run_dir in (node0, node1):
        info = wait_for_state(run_dir, {"done", "failed"}, timeout=300)
        assert info.state == "done", (run_dir / "worker.log").read_text()[-3000:]

    want, got = losses(reference), losses(node0)
    assert sorted(got) == sorted(want) and max(got) == 6, (got, want)  # one line per step, written once
    for step in want:
        assert got[step] == pytest.approx(want[step], rel=1e-5, abs=1e-6), step
    assert "--rdzv_backend=static" in (node0 / "worker.log").read_text()
    assert [e.step for e in read_events(node0) if e.kind == "checkpoint"] == [3, 6]
    assert (node0 / "artifacts" / "adapter" / "adapter_model.safetensors").is_file()

    # node 1: its own status, events and log; no metrics, checkpoints or artifacts
    assert not (node1 / "metrics.jsonl").exists()
    assert list((node1 / "checkpoints").iterdir()) == [] and list((node1 / "artifacts").iterdir()) == []
    kinds = [e.kind for e in read_events(node1)]
    assert kinds[0] == "started" and kinds[-1] == "finished" and "checkpoint" not in kinds
    said = [e.message for e in read_events(node1) if e.kind == "progress" and e.phase == "multi-node"]
    assert said and f"node 1 of 2 (rendezvous {endpoint}, id slmw)" in said[0]
    assert RunStore().info(node1).title == f"2x1 (node 1/2 of {endpoint})"
    training = [e for e in read_events(node1) if e.kind == "progress" and e.phase == "training"]
    assert training and training[-1].done == 6  # it shows how far the run is, from node 1's side


def start_two_nodes(tiny_recipe, title: str) -> tuple[Path, Path, str]:
    endpoint = f"127.0.0.1:{free_port()}"
    common = dict(max_steps=5000, save_steps=2000, eval_fraction=0.0, threads=1, num_nodes=2, rdzv_endpoint=endpoint)
    node0 = start_recipe(tiny_recipe(node_rank=0, **common), title=title)
    node1 = start_recipe(tiny_recipe(node_rank=1, **common), title=title)
    wait_until(lambda: (node0 / "metrics.jsonl").exists() and len(read_jsonl(node0 / "metrics.jsonl")) >= 2,
               timeout=300, what="the two nodes to train")
    return node0, node1, endpoint


def test_a_stop_on_node_0_stops_both_nodes_at_one_checkpoint(tiny_recipe) -> None:
    node0, node1, endpoint = start_two_nodes(tiny_recipe, "stop")
    stop_job(RunStore().info(node0))
    assert wait_for_state(node0, {"cancelled", "failed", "interrupted", "done"}, timeout=120).state == "cancelled"
    info = wait_for_state(node1, {"cancelled", "failed", "interrupted", "done"}, timeout=120)
    assert info.state == "cancelled", (node1 / "worker.log").read_text()[-3000:]
    assert info.status.message == f"stopped on another node of the run (node 1 of 2 (rendezvous {endpoint}, id slmw))"
    checkpoints = [e for e in read_events(node0) if e.kind == "checkpoint"]
    assert checkpoints and (Path(checkpoints[-1].path) / "trainer_state.json").is_file()
    assert list((node1 / "checkpoints").iterdir()) == []


def test_a_node_that_loses_its_peer_fails_with_one_line_naming_the_rendezvous(tiny_recipe) -> None:
    node0, node1, endpoint = start_two_nodes(tiny_recipe, "kill")
    os.killpg(RunStore().info(node1).status.pgid, signal.SIGKILL)
    info = wait_for_state(node0, {"cancelled", "failed", "interrupted", "done"}, timeout=120)
    assert info.state == "failed", (node0 / "worker.log").read_text()[-3000:]
    errors = [e for e in read_events(node0) if e.kind == "error"]
    assert errors[-1].message == (f"node 0 of 2 (rendezvous {endpoint}, id slmw) lost contact with the other nodes: "
                                  "one was killed or failed, or the network between them broke")
    assert info.status.message == errors[-1].message
