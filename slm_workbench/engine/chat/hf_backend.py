"""The transformers backend: a Hugging Face folder, with or without a LoRA adapter.

``generate`` runs in a helper thread and hands each new token id to a queue (a streamer);
the caller's generator decodes them incrementally, so the model loop pays nothing for
text handling. Stop is a stopping criterion that reads an event between tokens.

Adapters are PEFT LoRA folders loaded *into* the one base model under their own names:
switching adapter (or back to none, through ``disable_adapter``) never reloads the base.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ModelFormatError
from .detok import IncrementalDecoder
from .types import Delta, GenParams, Message, TemplateInfo, default_threads

_DONE = object()


class _QueueStreamer:
    """transformers' streamer protocol: ``put`` is first called with the prompt, then per token."""

    def __init__(self, q: queue.SimpleQueue) -> None:
        self.q = q
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            self.q.put(token)

    def end(self) -> None:
        pass


class TransformersBackend:
    kind = "transformers"

    def __init__(self, folder: Path, *, label: str | None = None, adapter: Path | None = None,
                 device: str | None = None, threads: int | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars would garble the CLI and TUI
        threads = threads or default_threads()
        if threads:
            torch.set_num_threads(threads)
        self.folder = Path(folder)
        self.label = label or self.folder.name
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if self.device.startswith("cuda") and torch.cuda.is_bf16_supported() else torch.float32
        try:
            # a run's adapter keeps the tokenizer it was trained with (its chat template, when the recipe chose one)
            own = adapter is not None and (Path(adapter) / "tokenizer_config.json").is_file()
            self.tokenizer = AutoTokenizer.from_pretrained(Path(adapter) if own else self.folder)
            self.base = AutoModelForCausalLM.from_pretrained(self.folder, dtype=dtype).to(self.device).eval()
        except (OSError, ValueError, KeyError) as exc:  # what transformers raises for a folder it cannot use
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelFormatError(f"transformers cannot load {self.folder}: {reason}") from None
        self.model: Any = self.base
        self.adapter: str | None = None
        if adapter is not None:
            self.set_adapter(adapter)

    # -- adapters ---------------------------------------------------------------------------
    def set_adapter(self, folder: Path | None) -> None:
        """Use the LoRA adapter in ``folder`` (loaded once, kept), or none."""
        if folder is None:
            self.adapter = None
            return
        from peft import PeftModel

        folder = Path(folder)
        if not (folder / "adapter_config.json").is_file():
            raise ModelFormatError(f"{folder} is not a PEFT adapter folder (no adapter_config.json)")
        name = "a" + str(abs(hash(str(folder.resolve()))))
        if not isinstance(self.model, PeftModel):
            self.model = PeftModel.from_pretrained(self.base, folder, adapter_name=name).eval()
        elif name not in self.model.peft_config:
            self.model.load_adapter(folder, adapter_name=name)
        self.model.set_adapter(name)
        self.adapter = str(folder)

    def _adapter_context(self) -> contextlib.AbstractContextManager:
        if self.adapter is None and self.model is not self.base:
            return self.model.disable_adapter()
        return contextlib.nullcontext()

    # -- the interface ----------------------------------------------------------------------
    def template(self) -> TemplateInfo:
        text = getattr(self.tokenizer, "chat_template", None)
        jinja = self.folder / "chat_template.jinja"
        return TemplateInfo(str(jinja) if jinja.is_file() else str(self.folder / "tokenizer_config.json"), text)

    def prompt_ids(self, messages: list[Message], params: GenParams) -> list[int]:
        rendered = self.tokenizer.apply_chat_template(params.with_system(messages), tokenize=False, add_generation_prompt=True)
        return self.tokenizer(rendered, add_special_tokens=False)["input_ids"]

    def generate_kwargs(self, params: GenParams) -> dict[str, Any]:
        config = self.model.generation_config
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens, "do_sample": params.sample,
            "temperature": params.temperature if params.sample else 1.0,
            "top_p": params.top_p if params.sample else 1.0, "top_k": None,
            "repetition_penalty": params.repetition_penalty,
            "pad_token_id": config.pad_token_id if config.pad_token_id is not None else self.tokenizer.eos_token_id,
            "eos_token_id": self._eos_ids(config),
        }
        return kwargs

    def _eos_ids(self, config: Any) -> list[int]:
        """The model's EOS ids and its chat template's end of turn (an adapter's template may end turns on
        a token its base's generation config does not stop on)."""
        from ..models.chat_template import stop_ids

        have = [config.eos_token_id] if isinstance(config.eos_token_id, int) else list(config.eos_token_id or [])
        return have + [i for i in stop_ids(self.tokenizer) if i not in have]

    def stream(self, messages: list[Message], params: GenParams, stop: threading.Event | None = None) -> Iterator[Delta]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        halt = threading.Event()

        class _Halt(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                flag = halt.is_set() or (stop is not None and stop.is_set())
                return torch.full((input_ids.shape[0],), flag, dtype=torch.bool, device=input_ids.device)

        ids = torch.tensor([self.prompt_ids(messages, params)], device=self.device)
        q: queue.SimpleQueue = queue.SimpleQueue()
        kwargs = self.generate_kwargs(params) | {
            "input_ids": ids, "attention_mask": torch.ones_like(ids), "streamer": _QueueStreamer(q),
            "stopping_criteria": StoppingCriteriaList([_Halt()]),
        }
        failure: list[BaseException] = []

        def run() -> None:
            try:
                if params.seed is not None:
                    torch.manual_seed(params.seed)
                with torch.inference_mode(), self._adapter_context():
                    self.model.generate(**kwargs)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                failure.append(exc)
            finally:
                q.put(_DONE)

        thread = threading.Thread(target=run, name=f"generate {self.label}", daemon=True)
        thread.start()
        decoder = IncrementalDecoder(self.tokenizer)
        try:
            while (token := q.get()) is not _DONE:
                yield Delta(decoder.push(token))
        finally:
            halt.set()
            thread.join()
        if failure:
            raise failure[0]

    def close(self) -> None:
        self.model = self.base = None  # type: ignore[assignment]
