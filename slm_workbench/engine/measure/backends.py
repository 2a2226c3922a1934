"""Two ways to run a model for measurement: PyTorch (the reference) and ONNX Runtime GenAI.

Both take token ids and give back the same things: per-token negative log-likelihoods over a
sequence (fed in chunks through the KV cache, so memory stays flat for long texts) and a
greedy decode with its time to first token and per-token times. ``decode(..., sampling=...)``
samples instead (temperature, top-p, a seed: a teacher asked for several answers per prompt);
without it, it is the greedy decode. Each is imported only inside the measuring process: an
ONNX variant's process never imports torch (its peak memory is its own).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..export.genai_folder import logits_output


@dataclass
class Decode:
    tokens: list[int]
    ttft_s: float
    decode_s: float
    """Time for the tokens after the first."""

    @property
    def tok_s(self) -> float | None:
        return (len(self.tokens) - 1) / self.decode_s if len(self.tokens) > 1 and self.decode_s > 0 else None


@dataclass(frozen=True)
class Sampling:
    """Sampled decoding: temperature above 0, nucleus ``top_p``, and the seed of this one answer."""

    temperature: float
    top_p: float = 1.0
    seed: int = 0


class Backend(Protocol):
    context_length: int

    def nll(self, ids: list[int], chunk: int) -> np.ndarray: ...

    def greedy(self, prompt_ids: list[int], new_tokens: int, *, stop_at_eos: bool) -> Decode: ...

    def decode(self, prompt_ids: list[int], new_tokens: int, *, stop_at_eos: bool,
               sampling: Sampling | None = None) -> Decode: ...


def _chunk_nll(logits: np.ndarray, targets: list[int]) -> np.ndarray:
    x = logits[: len(targets)]
    peak = x.max(-1, keepdims=True)
    lse = peak[:, 0].astype(np.float64) + np.log(np.exp(x - peak).sum(-1, dtype=np.float64))
    return lse - x[np.arange(len(targets)), targets].astype(np.float64)


class GenaiBackend:
    def __init__(self, folder: Path, threads: int = 1, provider: str = "cpu") -> None:
        import onnxruntime_genai as og

        self.og = og
        config = og.Config(str(folder))
        if provider != "cpu":  # a CUDA-built variant on ONNX Runtime GenAI's CUDA build (onnxruntime-genai-cuda)
            config.clear_providers()
            config.append_provider(provider)
        config.overlay(json.dumps({"model": {"decoder": {"session_options": {
            "intra_op_num_threads": threads, "inter_op_num_threads": 1}}}}))
        self.model = og.Model(config)
        genai = json.loads((folder / "genai_config.json").read_text(encoding="utf-8"))
        self.context_length = int(genai["model"].get("context_length") or 2048)
        self.logits_name = logits_output(genai)

    def _generator(self, max_length: int, min_length: int = 0, sampling: Sampling | None = None):  # noqa: ANN202
        params = self.og.GeneratorParams(self.model)
        options: dict[str, object] = {"max_length": max_length, "min_length": min_length, "batch_size": 1,
                                      "do_sample": sampling is not None}
        if sampling is not None:  # as the Chat pane's GenAI backend samples: no top-k, the nucleus alone
            options |= {"temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": 0,
                        "random_seed": sampling.seed}
        params.set_search_options(**options)
        return self.og.Generator(self.model, params)

    def nll(self, ids: list[int], chunk: int) -> np.ndarray:
        gen = self._generator(len(ids) + 1)
        out = []
        for start in range(0, len(ids) - 1, chunk):
            part = ids[start : start + chunk]
            gen.append_tokens(part)
            targets = ids[start + 1 : start + len(part) + 1]
            out.append(_chunk_nll(np.asarray(gen.get_output(self.logits_name))[0], targets))
        return np.concatenate(out)

    def greedy(self, prompt_ids: list[int], new_tokens: int, *, stop_at_eos: bool) -> Decode:
        return self.decode(prompt_ids, new_tokens, stop_at_eos=stop_at_eos)

    def decode(self, prompt_ids: list[int], new_tokens: int, *, stop_at_eos: bool,
               sampling: Sampling | None = None) -> Decode:
        total = len(prompt_ids) + new_tokens
        gen = self._generator(total, 0 if stop_at_eos else total, sampling)
        t0 = time.perf_counter()
        gen.append_tokens(prompt_ids)
        tokens: list[int] = []
        t_first = t0
        while not gen.is_done() and len(tokens) < new_tokens:
            gen.generate_next_token()
            tokens.append(int(gen.get_next_tokens()[0]))
            if len(tokens) == 1:
                t_first = time.perf_counter()
        end = time.perf_counter()
        return Decode(tokens, t_first - t0, end - t_first)


class TorchBackend:
    def __init__(self, folder: Path, threads: int = 1, *, dynamic_int8: bool = False, adapter: Path | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        torch.set_num_threads(threads)
        self.torch = torch
        self.model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
        if adapter is not None:  # a LoRA over the base, merged in memory (the numbers of the merged model)
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, str(adapter)).merge_and_unload().eval()
        if dynamic_int8:  # PyTorch's own int8 path, for comparison: nn.Linear -> dynamic int8
            self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
        self.context_length = int(getattr(self.model.config, "max_position_embeddings", 2048) or 2048)
        self.eos = self.model.generation_config.eos_token_id
        import inspect

        # transformers 5.2x renamed past_key_values to cache (the old name warns, and goes in 5.40)
        self.cache_arg = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"

    def _forward(self, ids: list[list[int]], past: object) -> tuple[object, object]:
        kwargs = {self.cache_arg: past} if past is not None else {}
        result = self.model(input_ids=self.torch.tensor(ids), use_cache=True, **kwargs)
        cache = getattr(result, "cache", None)
        return result.logits, cache if cache is not None else result.past_key_values

    def nll(self, ids: list[int], chunk: int) -> np.ndarray:
        torch = self.torch
        out = []
        past = None
        with torch.inference_mode():
            for start in range(0, len(ids) - 1, chunk):
                part = ids[start : start + chunk]
                logits, past = self._forward([part], past)
                targets = ids[start + 1 : start + len(part) + 1]
                out.append(_chunk_nll(logits[0].float().numpy(), targets))
        return np.concatenate(out)

    def greedy(self, prompt_ids: list[int], new_tokens: int, *, stop_at_eos: bool) -> Decode:
        return self.decode(prompt_ids, new_tokens, stop_at_eos=stop_at_eos)

    def _pick(self, logits: object, sampling: Sampling | None, rng: object) -> int:
        torch = self.torch
        if sampling is None:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits.float() / sampling.temperature, dim=-1)  # type: ignore[union-attr]
        if sampling.top_p < 1.0:  # the smallest set of tokens whose probability reaches top_p
            sorted_probs, order = torch.sort(probs, descending=True)
            outside = torch.cumsum(sorted_probs, dim=-1) - sorted_probs >= sampling.top_p
            sorted_probs[outside] = 0.0
            probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
        return int(torch.multinomial(probs, 1, generator=rng))

    def decode(self, prompt_ids: list[int], new_tokens: int, *, stop_at_eos: bool,
               sampling: Sampling | None = None) -> Decode:
        """Decoding step by step with the KV cache (the same loop shape as GenAI's): greedy, or
        sampled from a generator of its own seeded with ``sampling.seed`` (the global seed untouched)."""
        torch = self.torch
        eos = set(self.eos if isinstance(self.eos, list) else [self.eos] if self.eos is not None else [])
        rng = torch.Generator().manual_seed(sampling.seed) if sampling is not None else None
        tokens: list[int] = []
        with torch.inference_mode():
            t0 = time.perf_counter()
            all_logits, past = self._forward([prompt_ids], None)
            t_first = t0
            while True:
                logits = all_logits[0, -1]
                if not stop_at_eos and eos and len(tokens) < new_tokens:
                    logits = logits.clone()
                    logits[list(eos)] = float("-inf")
                token = self._pick(logits, sampling, rng)
                tokens.append(token)
                if len(tokens) == 1:
                    t_first = time.perf_counter()
                if len(tokens) >= new_tokens or (stop_at_eos and token in eos):
                    break
                all_logits, past = self._forward([[token]], past)
            end = time.perf_counter()
        return Decode(tokens, t_first - t0, end - t_first)


def import_runtime(kind: str) -> None:
    """Import a backend's runtime ahead of timing its load (import time is not load time)."""
    if kind.startswith("torch"):
        import torch  # noqa: F401
        import transformers  # noqa: F401
        from transformers import AutoModelForCausalLM  # noqa: F401
    else:
        import onnxruntime_genai  # noqa: F401


def cuda_measurable() -> bool:
    """ONNX Runtime GenAI here can run CUDA variants (its CUDA build, and a GPU it sees)."""
    try:
        import onnxruntime_genai as og

        return bool(og.is_cuda_available())
    except (ImportError, AttributeError, RuntimeError):
        return False


def open_backend(kind: str, folder: Path, threads: int = 1, provider: str = "cpu") -> Backend:
    if kind in ("torch", "torch-dynamic-int8"):
        return TorchBackend(folder, threads, dynamic_int8=kind == "torch-dynamic-int8")
    if kind == "onnx":
        return GenaiBackend(folder, threads, provider)
    raise ValueError(f"unknown backend {kind}")
