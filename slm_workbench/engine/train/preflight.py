"""Checks a training recipe before a job is started, without loading torch or weights.

Catches what would otherwise fail minutes into a job: a model that does not resolve, a
``max_length`` beyond the model's context, data that is missing or was tokenized for another
model, QLoRA without a CUDA GPU, TensorBoard asked for but not installed, a multi-node rendezvous
that cannot work (a host that does not resolve, node 0's port taken). Errors stop the
launch; warnings are shown and the job runs. Memory and disk are checked by
``engine.preflight.check_launch`` (a refusal there can be forced).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

from ...config.train import TrainRecipe
from ..errors import WorkbenchError
from ..models.resolve import ModelRef, parse_model


@dataclass
class Preflight:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def raise_errors(self) -> None:
        if self.errors:
            raise WorkbenchError(self.errors[0], hint="; ".join(self.errors[1:]) or None)


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def preflight(recipe: TrainRecipe, *, has_cuda: bool | None = None) -> Preflight:
    result = Preflight()
    try:
        ref = parse_model(recipe.model)
    except WorkbenchError as exc:
        result.errors.append(str(exc))
        return result
    if has_cuda is None:
        from .. import system

        has_cuda = bool(system.gpus())
    if recipe.method == "qlora" and not has_cuda:
        result.errors.append("QLoRA needs a CUDA GPU (bitsandbytes 4-bit); this machine has none — use method: lora")
    if recipe.report_to == "tensorboard" and importlib.util.find_spec("tensorboard") is None:
        result.errors.append("report_to: tensorboard needs the tensorboard package (pip install tensorboard)")
    if recipe.num_processes > 1 and has_cuda is False and recipe.threads is None:
        result.warnings.append(f"{recipe.num_processes} CPU processes share the cores: set threads (e.g. 1) per process")
    if recipe.num_nodes > 1:
        _check_rendezvous(recipe, result)
    if ref.prepared and (beyond := context_error(recipe, ref.folder)):
        result.errors.append(beyond)
    if recipe.distill is not None:  # a teacher whose vocabulary logit KD cannot use, refused before the job
        from .kd import launch_errors

        result.errors.extend(launch_errors(recipe, ref.folder if ref.prepared else None))
    data = Path(recipe.data).expanduser()
    if (template_error := chat_template_error(recipe, ref, data)) is not None:
        result.errors.append(template_error)
    if (data / "manifest.json").is_file():
        _check_prepared(recipe, ref.folder if ref.prepared else None, data, result)
    elif not data.exists() and _looks_like_path(recipe.data):
        result.errors.append(f"data: no such file or folder: {data}")
    return result


def _check_rendezvous(recipe: TrainRecipe, result: Preflight) -> None:
    """The endpoint resolves; on node 0 (which hosts it) it is this machine and its port is free."""
    import socket

    from ...config.train import split_endpoint

    host, port = split_endpoint(recipe.rdzv_endpoint or "")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError) as exc:
        result.errors.append(f"rdzv_endpoint {recipe.rdzv_endpoint}: cannot resolve {host} ({exc})")
        return
    if recipe.node_rank != 0:
        return
    if not addresses & _local_addresses():
        result.warnings.append(f"rdzv_endpoint {recipe.rdzv_endpoint}: {host} is not an address of this machine, "
                               "but node 0 hosts the rendezvous: the other nodes will look for it there")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("", port))
        except OSError:
            result.errors.append(f"rdzv_endpoint {recipe.rdzv_endpoint}: port {port} is in use on this machine, "
                                 "where node 0 hosts the rendezvous — pick another port (the same on every node)")


def _local_addresses() -> set[str]:
    import psutil

    found = {"127.0.0.1", "::1"}
    for addrs in psutil.net_if_addrs().values():
        found.update(a.address.split("%")[0] for a in addrs)
    return found


def model_context(folder: Path) -> int | None:
    """The longest sequence the model was built for (``config.json`` ``max_position_embeddings``)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    value = config.get("max_position_embeddings") if isinstance(config, dict) else None
    return value if isinstance(value, int) and value > 0 else None


def context_error(recipe: TrainRecipe, folder: Path) -> str | None:
    """An error when ``max_length`` is longer than the model can attend over."""
    context = model_context(folder)
    if context is None or recipe.max_length <= context:
        return None
    return (f"max_length {recipe.max_length} is beyond the context of {recipe.model} ({context} tokens, "
            f"max_position_embeddings in {folder / 'config.json'}): set max_length to {context} or less")


def chat_template_error(recipe: TrainRecipe, ref: ModelRef, data: Path) -> str | None:
    """The recipe's ``chat_template`` does not render a conversation; or the data holds conversations
    (messages, prompt/completion, Alpaca rows) and neither the model (a base model) nor the recipe
    gives a chat template to render them with. Text data needs none."""
    from ..models.chat_template import OPTION, check_fits, check_renders, load_template

    if recipe.chat_template:
        try:
            chosen = load_template(recipe.chat_template)
            if ref.prepared:
                check_fits(ref.folder, chosen)  # renders, and its end of turn is one token of this vocabulary
            else:
                check_renders(chosen)
        except WorkbenchError as exc:
            return str(exc)
        return None
    if not ref.prepared:
        return None  # prepared by the job, which says so when it renders the first conversation
    from ..models.info import folder_template

    if folder_template(ref.folder) != "none" or not _holds_conversations(recipe.data, data):
        return None
    return (f"{recipe.model} has no chat template (a base model) and {recipe.data} holds conversations: choose one "
            f"with `{OPTION}` in the recipe, or --set chat_template=chatml")


def _holds_conversations(spec: str, data: Path) -> bool:
    """Whether training renders ``data`` with a chat template (read from a prepared dataset's manifest,
    or the first rows of a local file or a shipped source; a hub dataset is left to the job)."""
    if (data / "manifest.json").is_file():
        try:
            manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return manifest.get("template") == "chat" and ((manifest.get("format") or {}).get("name") != "text")
    if not (data.exists() or spec.startswith("slmw:")):
        return False
    from ..data.pipeline import plan

    try:
        found = plan(spec)
    except WorkbenchError:
        return False  # the job names what is wrong with the data
    return found.template is None and found.spec is not None and found.spec.name != "text"


def _looks_like_path(spec: str) -> bool:
    """A local path rather than ``slmw:demo`` or a hub dataset id ``owner/name``."""
    return spec.startswith(("/", "./", "../", "~")) or Path(spec).suffix != "" or spec.count("/") > 1


def _check_prepared(recipe: TrainRecipe, model_folder: Path | None, data: Path, result: Preflight) -> None:
    try:
        manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        result.errors.append(f"data: {data / 'manifest.json'} is unreadable ({exc})")
        return
    recorded = (manifest.get("tokenizer") or {}).get("tokenizer_json_sha256")
    if model_folder is not None and recorded and recorded != _sha256(model_folder / "tokenizer.json"):
        result.errors.append(
            f"data: {data} was prepared with another tokenizer ({(manifest.get('tokenizer') or {}).get('model')}) "
            f"than {recipe.model}'s — prepare it again with --model {recipe.model}"
        )
    longest = ((manifest.get("stats") or {}).get("max")) or 0
    if longest > recipe.max_length and not recipe.packing:
        result.warnings.append(f"data: some rows have {longest} tokens; max_length {recipe.max_length} truncates them")
