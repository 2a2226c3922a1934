"""The ONNX Runtime GenAI backend: any variant folder (``genai_config.json`` + ``model.onnx``).

The folder's own tokenizer and chat template render the prompt (``og.Tokenizer``), exactly
as Foundry Local and every other GenAI host will, so what you test here is what ships.

An adapter base (``MODEL:lora-fp32``; ``engine/adapters/base.py``) loads once and
answers with any LoRA adapter made for it: each answer names its adapter
(``GenParams.adapter``, else the one the target named after ``+``); the adapter's
``.onnx_adapter`` file is loaded into ``og.Adapters`` on first use and activated on that
answer's generator only, so concurrent answers may use different adapters.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..adapters.base import read_lora_base
from ..adapters.lora import adapter_file, require_lora_base
from ..errors import ModelFormatError
from .types import Delta, GenParams, Message, TemplateInfo, default_threads


def next_tokens(generator: Any, stop: threading.Event | None = None) -> Iterator[int]:
    """A one-answer ``og.Generator``'s tokens, one a step, until it is done or ``stop`` is set."""
    while not generator.is_done():
        if stop is not None and stop.is_set():
            return
        generator.generate_next_token()
        yield int(generator.get_next_tokens()[0])


class OnnxGenaiBackend:
    kind = "onnx"

    def __init__(self, folder: Path, *, label: str | None = None, threads: int | None = None,
                 adapter: str | None = None) -> None:
        import onnxruntime_genai as og

        self.folder = Path(folder)
        if not (self.folder / "genai_config.json").is_file():
            raise ModelFormatError(f"{self.folder} is not an ONNX Runtime GenAI folder (no genai_config.json)")
        self.label = label or self.folder.name
        self._og = og
        config = og.Config(str(self.folder))
        threads = threads or default_threads()
        if threads:
            options = {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
            config.overlay(json.dumps({"model": {"decoder": {"session_options": options}}}))
        try:
            self.model = og.Model(config)
        except Exception as exc:  # noqa: BLE001 - onnxruntime errors are plain RuntimeErrors
            raise ModelFormatError(f"ONNX Runtime GenAI cannot load {self.folder}: {exc}") from None
        self.tokenizer = og.Tokenizer(self.model)
        self.eos_ids = {int(i) for i in self.tokenizer.eos_token_ids}
        self.context_length = self._context_length()
        self.lora_base = read_lora_base(self.folder)
        self.default_adapter = adapter
        self._adapters: Any = og.Adapters(self.model) if self.lora_base is not None else None
        self.adapter_files: dict[str, Path] = {}
        """The ``.onnx_adapter`` file of each adapter loaded, by key."""
        self._adapter_lock = threading.Lock()
        if adapter:
            self.load_adapter(adapter)

    def load_adapter(self, spec: str) -> str:
        """Load the adapter ``spec`` names (a run id, PEFT folder or ``.onnx_adapter`` file) once; its key."""
        if self._adapters is None:
            require_lora_base(self.folder, self.label)
        with self._adapter_lock:
            if spec not in self.adapter_files:
                path = adapter_file(spec, self.folder)
                try:
                    self._adapters.load(str(path), spec)
                except Exception as exc:  # noqa: BLE001 - onnxruntime errors are plain RuntimeErrors
                    raise ModelFormatError(f"ONNX Runtime GenAI cannot load the adapter {path}: {exc}") from None
                self.adapter_files[spec] = path
        return spec

    def _context_length(self) -> int:
        try:
            return int(json.loads((self.folder / "genai_config.json").read_text())["model"]["context_length"])
        except (OSError, ValueError, KeyError, TypeError):
            return 4096

    def template(self) -> TemplateInfo:
        jinja = self.folder / "chat_template.jinja"
        if jinja.is_file():
            return TemplateInfo(str(jinja), jinja.read_text(encoding="utf-8"))
        try:
            config = json.loads((self.folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            config = {}
        return TemplateInfo(str(self.folder / "tokenizer_config.json"), config.get("chat_template"))

    def render(self, messages: list[Message], *, add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=add_generation_prompt)

    def encode(self, text: str) -> list[int]:
        return [int(i) for i in self.tokenizer.encode(text)]

    def prompt_ids(self, messages: list[Message], params: GenParams) -> list[int]:
        return self.encode(self.render(params.with_system(messages)))

    def search_options(self, params: GenParams, prompt_len: int) -> dict[str, Any]:
        options: dict[str, Any] = {
            "max_length": min(self.context_length, prompt_len + params.max_new_tokens),
            "do_sample": params.sample, "repetition_penalty": params.repetition_penalty,
        }
        if params.sample:
            options |= {"temperature": params.temperature, "top_p": params.top_p, "top_k": 0}
        if params.seed is not None:
            options["random_seed"] = params.seed
        return options

    def stream(self, messages: list[Message], params: GenParams, stop: threading.Event | None = None) -> Iterator[Delta]:
        decoder = self.tokenizer.create_stream()
        for token in self.generate_ids(self.prompt_ids(messages, params), params, stop):
            yield Delta("" if token in self.eos_ids else decoder.decode(token))

    def generate_ids(self, ids: list[int], params: GenParams, stop: threading.Event | None = None) -> Iterator[int]:
        """The token ids generated after the prompt ``ids``, with the answer's adapter active."""
        og = self._og
        if len(ids) >= self.context_length:
            raise ModelFormatError(f"the conversation is {len(ids)} tokens; {self.label} holds {self.context_length}")
        adapter = self.default_adapter if params.adapter is None else params.adapter
        key = self.load_adapter(adapter) if adapter else None
        gen_params = og.GeneratorParams(self.model)
        gen_params.set_search_options(**self.search_options(params, len(ids)))
        generator = og.Generator(self.model, gen_params)
        if key is not None:
            generator.set_active_adapter(self._adapters, key)
        generator.append_tokens(ids)
        yield from next_tokens(generator, stop)

    def close(self) -> None:
        self._adapters = self.model = self.tokenizer = None
