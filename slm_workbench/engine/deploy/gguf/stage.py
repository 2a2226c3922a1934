"""Job stage ``deploy.gguf``: a model or a fine-tuned run as a GGUF file plus an Ollama Modelfile.

Two ways to write the file, chosen by ``plan`` before anything heavy runs:

- **workbench** (``write.py``): models converted from a llama-architecture GGUF, i.e. the
  built-in SmolLM2-135M-Instruct and every run fine-tuned from it (LoRA, merged here, or full),
  with the source's shapes and vocabulary. The tensors go into the source file's metadata.
- **llama.cpp** (``llamacpp.py``): any architecture llama.cpp's ``convert_hf_to_gguf.py``
  knows, when the user has it (recipe ``llama_cpp``, ``$SLMW_LLAMA_CPP`` or ``PATH``). Without
  it, a model that did not come from a GGUF is refused in one line saying what is needed.

``q4_k_m`` is f16 from either path, then llama.cpp's ``llama-quantize``, or, without the CLI,
``llama_model_quantize`` in a Python that has llama-cpp-python (``llama_python.py``). With such
a Python the written file is also loaded in llama.cpp and its greedy answers to the check prompts
compared with the workbench's fp32 ones: ``gguf.json``'s ``check`` (``verdict``, ``detail``), which
the Deploy pane shows. The output folder (``model.gguf``, ``Modelfile``, ``gguf.json``) is built
aside and renamed into place; an existing one is refused unless ``force``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ....config.deploy_gguf import GgufRecipe
from ...errors import ModelFormatError, ModelNotFoundError, WorkbenchError
from ...export.merge import merge_adapter
from ...model_source import DEPLOY_SOURCE, ModelSource, resolve_source
from ...fsutil import built_aside
from ...first_use import prepare_in_job
from ...runs.context import RunContext
from ....config.deploy_foundry import DEFAULT_PROMPTS
from .llama_python import INSTALL_HINT, LlamaPython, check_in_llama_cpp, find_llama_python
from .llama_python import quantize as quantize_in_python
from .llamacpp import ENV, LlamaCpp, convert, find_llama_cpp, quantize
from .write import PERMUTED, gguf_origin, write_like_source

GGUF_FILE = "model.gguf"
MODELFILE = "Modelfile"
MANIFEST = "gguf.json"
WORKBENCH_SUPPORTS = (f"models converted from a {'/'.join(PERMUTED)} GGUF, i.e. the built-in "
                      "smollm2-135m-instruct and runs fine-tuned from it")


@dataclass(frozen=True)
class Plan:
    path: Literal["workbench", "llama.cpp"]
    source_gguf: Path | None
    """The GGUF the model came from (its metadata is copied on the workbench path)."""
    tools: LlamaCpp
    llama: LlamaPython
    """A Python with llama-cpp-python (the check; q4_k_m when ``tools`` has no ``llama-quantize``)."""

    @property
    def quantizer(self) -> Literal["llama-quantize", "llama-cpp-python"]:
        return "llama-quantize" if self.tools.quantizer is not None else "llama-cpp-python"


def _llama_hint(tools: LlamaCpp) -> str:
    return (f"install llama.cpp and point ${ENV} (or --llama-cpp) at its folder, or put its tools on PATH "
            f"(looked in: {tools.describe_search()})")


def origin_of(source: ModelSource) -> Path | None:
    """The GGUF the source's weights descend from: the model's own, or a run's base model's."""
    if source.run is None:
        return gguf_origin(source.hf_folder) if source.hf_folder is not None else None
    try:
        return gguf_origin(source.base_folder or source.run.base_model())
    except WorkbenchError:
        return None


def plan(source: ModelSource, recipe: GgufRecipe) -> Plan:
    """Which writer makes this file; a ``WorkbenchError`` in one line when none can."""
    tools = find_llama_cpp(recipe.llama_cpp)
    llama = find_llama_python(recipe.llama_python)
    origin = origin_of(source)
    if llama.named and llama.python is None:
        raise WorkbenchError(f"the Python named for llama-cpp-python does not work: {llama.why}", hint=INSTALL_HINT)
    if recipe.type == "q4_k_m" and tools.quantizer is None and llama.python is None:
        raise WorkbenchError(f"--type q4_k_m needs llama.cpp's quantizer: no llama-quantize (looked in "
                             f"{tools.describe_search()}) and {llama.why}; f16 and q8_0 need no llama.cpp for "
                             + WORKBENCH_SUPPORTS,
                             hint=f"{INSTALL_HINT}, or put llama.cpp's llama-quantize on PATH or in ${ENV}")
    if recipe.converter != "llama.cpp" and origin is not None:
        if not origin.is_file():
            raise ModelNotFoundError(f"{source.spec} came from {origin}, which is gone; its metadata is what the "
                                "workbench writes the GGUF into", hint="reinstall the package that holds it")
        return Plan("workbench", origin, tools, llama)
    if recipe.converter == "workbench":
        raise WorkbenchError(f"{source.spec} did not come from a GGUF: the workbench's own writer covers only "
                             + WORKBENCH_SUPPORTS, hint="use converter: auto or llama.cpp")
    if tools.converter is None:
        raise WorkbenchError(f"{source.spec} did not come from a GGUF, so writing it needs llama.cpp's "
                             f"convert_hf_to_gguf.py, which was not found; the workbench writes GGUFs itself only "
                             f"for {WORKBENCH_SUPPORTS}", hint=_llama_hint(tools))
    return Plan("llama.cpp", origin, tools, llama)


def resolve_gguf_source(spec: str) -> ModelSource:
    source = resolve_source(spec, accept=DEPLOY_SOURCE, prepared=False)
    if source.variant is not None:
        raise WorkbenchError(f"{spec} names an ONNX variant; a GGUF is written from the model's own weights",
                             hint=f"give {source.without_variant().spec}")
    return resolve_source(spec, accept=DEPLOY_SOURCE)


def refuse_existing(output: Path, force: bool) -> None:
    if output.exists() and not force:
        raise WorkbenchError(f"{output} already exists", hint="choose another -o DIR, or --force to replace it")


def modelfile_for(hf_folder: Path, gguf_name: str) -> tuple[str, str]:
    """(Modelfile text, the chat template's family in words) from the model's tokenizer."""
    from transformers import AutoTokenizer

    from .modelfile import TemplateNotConvertible, jinja_render, modelfile_text, turn_pieces

    tokenizer = AutoTokenizer.from_pretrained(hf_folder)
    template = tokenizer.chat_template
    if not isinstance(template, str) or not template:
        return modelfile_text(gguf_name, None, tokenizer.eos_token,
                              note="no chat template: Ollama sends prompts as they are"), "none"
    bos = tokenizer.bos_token or ""
    try:
        pieces = turn_pieces(jinja_render(template, bos, tokenizer.eos_token or ""), bos)
    except TemplateNotConvertible as exc:
        note = f"no TEMPLATE: the chat template is not a turn template ({exc}); Ollama uses the GGUF's own"
        return modelfile_text(gguf_name, None, tokenizer.eos_token, note=note), "not converted"
    family = "ChatML" if pieces.prefix["user"].startswith("<|im_start|>") else "turn template"
    if pieces.system_in_user is not None:
        family += ", the system prompt in the first user turn"
    return modelfile_text(gguf_name, pieces, tokenizer.eos_token), family


def chat_template_of(hf_folder: Path) -> str | None:
    from transformers import AutoTokenizer

    template = AutoTokenizer.from_pretrained(hf_folder).chat_template
    return template if isinstance(template, str) and template else None


def write_gguf(source: ModelSource, the_plan: Plan, qtype: str, folder: Path, ctx: RunContext) -> dict:
    """``folder/model.gguf`` by the plan's path (f16 first, then llama-quantize, for q4_k_m)."""
    assert source.hf_folder is not None
    target = folder / GGUF_FILE
    first = folder / ".model-f16.gguf" if qtype == "q4_k_m" else target
    first_type = "f16" if qtype == "q4_k_m" else qtype

    def log(line: str) -> None:
        print(f"[deploy.gguf] {line}", flush=True)

    details: dict = {}
    if the_plan.path == "workbench":
        assert the_plan.source_gguf is not None
        details = write_like_source(
            source.hf_folder, the_plan.source_gguf, first, first_type, name=source.name,
            chat_template=chat_template_of(source.hf_folder),
            on_tensor=lambda done, total: ctx.progress("writing tensors", done, total, "tensors"),
            check_cancelled=ctx.check_cancelled)
    else:
        ctx.progress("converting with llama.cpp", 0, None)
        convert(the_plan.tools, source.hf_folder, first, first_type, log=log, check_cancelled=ctx.check_cancelled)
    if qtype == "q4_k_m":
        ctx.progress(f"quantizing to q4_k_m with llama.cpp ({the_plan.quantizer})", 0, None)
        if the_plan.quantizer == "llama-quantize":
            quantize(the_plan.tools, first, target, qtype, log=log, check_cancelled=ctx.check_cancelled)
        else:
            log(f"llama_model_quantize {first.name} -> {target.name} (Q4_K_M) in {the_plan.llama.why}")
            quantize_in_python(the_plan.llama, first, target, qtype)
        details["quantizer"] = the_plan.quantizer
        first.unlink()
    if not target.is_file():
        raise ModelFormatError(f"no GGUF was written to {target}")
    return details


def lineage(source: ModelSource, the_plan: Plan) -> dict:
    info: dict = {"spec": source.spec, "kind": source.kind, "name": source.name, "folder": str(source.hf_folder),
                  "gguf_origin": str(the_plan.source_gguf) if the_plan.source_gguf else None}
    if source.run is not None:
        info |= {"run": source.run.id, "base_model": str(source.base_folder or source.run.base_model()),
                 "adapter": str(source.adapter) if source.adapter else None,
                 "data": (source.run.lineage.get("data") or {})}
    return info


def run(recipe: GgufRecipe, ctx: RunContext) -> None:
    started = time.perf_counter()
    prepare_in_job(recipe.source, ctx)
    source = resolve_gguf_source(recipe.source)
    output = Path(recipe.output).expanduser() if recipe.output else ctx.artifacts_dir / f"gguf-{recipe.type}"
    refuse_existing(output, recipe.force)
    the_plan = plan(source, recipe)
    print(f"[deploy.gguf] {source.spec} -> {output} ({recipe.type}, {the_plan.path} writer)", flush=True)
    if source.hf_folder is None:
        ctx.progress("merging the adapter into its base", 0, None)
        source = merge_adapter(source, log=lambda m: print(f"[deploy.gguf] {m}", flush=True))
    ctx.check_cancelled()
    with built_aside(output, "writing the GGUF into") as folder:
        details = write_gguf(source, the_plan, recipe.type, folder, ctx)
        ctx.progress("writing the Modelfile", 0, None)
        text, family = modelfile_for(source.hf_folder, GGUF_FILE)
        (folder / MODELFILE).write_text(text, encoding="utf-8")
        size = (folder / GGUF_FILE).stat().st_size
        ctx.check_cancelled()
        ctx.progress("loading it in llama.cpp: the check prompts' greedy answers", 0, None)
        check = check_in_llama_cpp(the_plan.llama, folder / GGUF_FILE, source.hf_folder, list(DEFAULT_PROMPTS),
                                   log=lambda m: print(f"[deploy.gguf] {m}", flush=True))
        print(f"[deploy.gguf] llama.cpp check: {check['verdict']}: {check['detail']}", flush=True)
        manifest = {"type": recipe.type, "writer": the_plan.path, "file": GGUF_FILE, "size_bytes": size,
                    "modelfile": MODELFILE, "template": family, "seconds": round(time.perf_counter() - started, 1),
                    "source": lineage(source, the_plan), **details, "check": check}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    ctx.artifact("gguf", output / GGUF_FILE, f"{recipe.type} GGUF, {size / 1e6:,.0f} MB ({the_plan.path} writer)")
    ctx.artifact("Modelfile", output / MODELFILE, f"Ollama Modelfile (template: {family}): "
                 f"cd {output} && ollama create NAME -f Modelfile")
    ctx.metrics({"type": recipe.type, "writer": the_plan.path, "size_mb": round(size / 1e6, 1),
                 "seconds": manifest["seconds"]})
