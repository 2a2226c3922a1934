"""Write one Foundry Local package folder, aside, and rename it into place once it checks out.

The folder: the variant's ONNX Runtime GenAI files (``genai_config.json``, ``model.onnx`` +
data, tokenizer files with the chat template; copied, never hard-linked: onnx >= 1.20 and
onnx_ir refuse external data with more than one link as a possible hard-link attack, so a
linked package would break the variant it came from for every later load through onnx),
``inference_model.json`` (``Name`` and the
``PromptTemplate`` cut from the chat template), a model card ``README.md`` and
``lineage.json`` (data hash -> run -> variant -> package). Before the rename the template
round trip (``chat/template_render``) must give the training ids on every path, Foundry's
``PromptTemplate`` included; otherwise nothing is left in place.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from ...chat.template_check import PROBES, describe
from ...chat.template_render import training_rendering, variant_renderings
from ...errors import WorkbenchError
from ...fsutil import built_aside
from .source import PackageSource
from .template import inference_model, prompt_template, system_folded

INFERENCE_MODEL = "inference_model.json"
LINEAGE = "lineage.json"
CARD = "README.md"
CHECK_PROBES = tuple((name, conv) for name, conv in PROBES if conv[0]["role"] == "system")
"""Conversations with a system prompt: a template that adds a default system message of its own
(SmolLM2's does) cannot be written as a PromptTemplate for conversations without one."""
FOLDED_PROBES = tuple((name, conv) for name, conv in PROBES if conv[0]["role"] != "system")
"""Conversations without one, for a template that writes the system prompt inside the first user turn
(Gemma), whose PromptTemplate holds for those only (``template.system_folded``)."""


def copy_variant(variant_dir: Path, folder: Path) -> None:
    for path in sorted(variant_dir.iterdir()):
        if path.is_file():
            shutil.copy2(path, folder / path.name)


def template_round_trip(tokenizer: Any, folder: Path, label: str) -> list[str]:
    """Every path's ids against training's for the probe conversations: the checks made; raises on a difference."""
    from ...chat.og_backend import OnnxGenaiBackend

    backend = OnnxGenaiBackend(folder, label=label)
    checked: list[str] = []
    problems: list[str] = []
    try:
        for probe, conversation in (FOLDED_PROBES if system_folded(tokenizer) else CHECK_PROBES):
            for prompt in (True, False):
                reference = training_rendering(tokenizer, conversation, label, prompt=prompt)
                if reference.error:
                    problems.append(f"{probe}: training: {reference.error}")
                    continue
                for other in variant_renderings(backend, label, conversation, prompt=prompt):
                    checked.append(f"{probe} / {'prompt' if prompt else 'conversation'} / {other.path}")
                    problem = describe(tokenizer, reference, other)
                    if problem:
                        problems.append(f"{probe}: {problem}")
    finally:
        backend.close()
    if not any(c.split(" / ")[-1].startswith("foundry") for c in checked):
        problems.append(f"the PromptTemplate of {INFERENCE_MODEL} was not checked")
    if problems:
        raise WorkbenchError(f"the package's templates do not round-trip: {problems[0]}",
                             hint=f"{len(problems)} difference(s); see `slmw chat --check-template` for the model")
    return checked


def model_card(name: str, model_id: str, lineage: dict[str, Any], template: dict[str, str]) -> str:
    data = lineage.get("data") or {}
    source = data.get("source") or {}
    variant = lineage["variant"]
    build = variant.get("build") or {}
    pieces = "\n".join(f"- `{role}`: `{text!r}`" for role, text in template.items())
    trained = (f"fine-tuned in run `{lineage['run']}` from `{(lineage.get('base_model') or {}).get('spec')}`"
               f" on `{source.get('spec')}` (sha256 `{source.get('sha256')}`)") if lineage.get("run") else \
        f"the model `{lineage['source']['name']}` as prepared (no fine-tuning)"
    return f"""---
tags: [slm-workbench, foundry-local, onnxruntime-genai]
---

# {name}

A Foundry Local package built by SLM Workbench: {trained}; ONNX variant `{variant['name']}`
({build.get('precision', '?')}, {variant['chosen_by']}).

Register it with Foundry Local (SDK 2.2.1) as `{model_id}`:

```python
from foundry_local_sdk import CatalogType, Configuration, FoundryLocalManager, ModelInfoBuilder
FoundryLocalManager.initialize(Configuration(app_name="my-app"))
catalog = FoundryLocalManager.instance.get_catalog(CatalogType.LOCAL)
catalog.register_model("<this folder>", "{model_id}", ModelInfoBuilder().set_string_property("task", "chat-completion"))
```

or `slmw deploy foundry {lineage['source']['spec']}:{variant['name']} --install`.

## Prompt template
SDK 2.x renders prompts with the chat template in this folder; older Foundry Local reads
`{INFERENCE_MODEL}`, whose pieces were cut from that template and checked to give the same
token ids as training (conversations that start with a system message):
{pieces}

## Lineage
`{LINEAGE}`: data -> run -> variant -> package.
"""


def write_package(src: PackageSource, tokenizer: Any, target: Path, *, name: str, model_id: str,
                  run_id: str) -> dict[str, Any]:
    """Build the package for ``src`` at ``target`` (aside, checked, renamed); its lineage."""
    template = prompt_template(tokenizer)
    lineage = src.lineage() | {"package": {"name": name, "model_id": model_id, "folder": str(target),
                                           "deploy_run": run_id, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}}
    with built_aside(target, "writing the Foundry Local package") as folder:
        copy_variant(src.variant_dir, folder)
        (folder / INFERENCE_MODEL).write_text(json.dumps(inference_model(name, template), indent=2) + "\n",
                                              encoding="utf-8")
        lineage["template_check"] = template_round_trip(tokenizer, folder, src.variant)
        (folder / LINEAGE).write_text(json.dumps(lineage, indent=2) + "\n", encoding="utf-8")
        (folder / CARD).write_text(model_card(name, model_id, lineage, template), encoding="utf-8")
    return lineage
