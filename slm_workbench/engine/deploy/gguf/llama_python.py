"""llama.cpp through llama-cpp-python, in a Python of the user's choosing, in a process of its own.

llama-cpp-python has no wheels (it builds llama.cpp, ~9 minutes) and is no dependency of the
workbench, so it usually lives in an environment of its own; and ``llama_cpp`` is never
imported in a workbench process. Every call runs ``llama_child.py`` in the interpreter named by
the recipe's ``llama_python``, else ``$SLMW_LLAMA_PYTHON``, else this one when it has
``llama_cpp``. It gives ``q4_k_m`` without llama.cpp's CLI (``llama_model_quantize``) and the
GGUF job's check: the file loaded by llama.cpp and its greedy answers to the check prompts
against the workbench's fp32 ones (``check_in_llama_cpp``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import WorkbenchError

PYTHON_ENV = "SLMW_LLAMA_PYTHON"
CHILD = Path(__file__).with_name("llama_child.py")
INSTALL_HINT = (f"pip install llama-cpp-python into an environment of its own and set {PYTHON_ENV} "
                "(or --llama-python) to its python")
CHECK_TOKENS = 16
"""Greedy tokens compared per check prompt."""


@dataclass(frozen=True)
class LlamaPython:
    python: str | None
    """The interpreter that imports ``llama_cpp``; None when none was found (``why`` says why)."""
    version: str | None
    why: str
    named: bool = False
    """Named by the user (recipe or ``$SLMW_LLAMA_PYTHON``): one that does not work is refused, not skipped."""


def call(python: str, request: dict[str, Any], *, timeout_s: float = 900) -> dict[str, Any]:
    """One request in ``python``; its JSON answer (``ok`` false with ``error`` on failure)."""
    try:
        done = subprocess.run([python, "-I", str(CHILD)], input=json.dumps(request), capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"llama-cpp-python did not answer within {timeout_s:.0f} s"}
    except OSError as exc:
        return {"ok": False, "error": f"cannot run {python}: {exc.strerror or exc}"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if "No module named 'llama_cpp'" in done.stderr:
            tail = f"{python} has no llama-cpp-python"
        return {"ok": False, "error": f"the llama-cpp-python process ended {done.returncode}: {tail}"}


def find_llama_python(configured: str | None = None) -> LlamaPython:
    """The interpreter with llama-cpp-python (probed in a child), or None and why not, in one line."""
    named = [(where, value) for where, value in (("llama_python", configured), (PYTHON_ENV, os.environ.get(PYTHON_ENV)))
             if value]
    if named:
        where, python = named[0]
        if not Path(python).is_file():
            return LlamaPython(None, None, f"{where} {python} does not exist", named=True)
    elif importlib.util.find_spec("llama_cpp") is not None:
        where, python = "this interpreter", sys.executable
    else:
        return LlamaPython(None, None, f"no llama-cpp-python ({PYTHON_ENV} is not set and this Python has none)")
    reply = call(python, {"action": "probe"}, timeout_s=120)
    if not reply.get("ok"):
        return LlamaPython(None, None, f"{where} {python}: {reply.get('error')}", named=bool(named))
    return LlamaPython(python, str(reply.get("version")), f"llama-cpp-python {reply.get('version')} ({python})",
                       named=bool(named))


def quantize(llama: LlamaPython, src: Path, dst: Path, kind: str, *, threads: int = 1) -> dict[str, Any]:
    """``src`` (f16) -> ``dst`` in ``kind`` (``q4_k_m``) by ``llama_model_quantize``; WorkbenchError on failure."""
    assert llama.python is not None
    reply = call(llama.python, {"action": "quantize", "src": str(src), "dst": str(dst), "ftype": kind.upper(),
                                "threads": threads})
    if not reply.get("ok") or not dst.is_file():
        raise WorkbenchError(f"llama-cpp-python could not quantize {src.name} to {kind}: "
                             f"{reply.get('error') or 'no file written'}", hint=f"the Python was {llama.python}")
    return reply


def chat_prompt_ids(tokenizer: Any, prompts: list[str]) -> list[list[int]]:
    """Each prompt as one user turn through the chat template, with the generation prompt, as ids."""
    out = []
    for prompt in prompts:
        messages = [{"role": "user", "content": prompt}]
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = prompt + "\n"
        out.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    return out


def torch_greedy(hf_folder: Path, prompts: list[list[int]], new_tokens: int, eos: set[int],
                 threads: int = 1) -> list[list[int]]:
    """The workbench's fp32 (PyTorch) greedy tokens for each prompt, stopped at an EOS as the child stops."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(hf_folder, dtype=torch.float32).eval()
    answers = []
    with torch.no_grad():
        for ids in prompts:
            out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 max_new_tokens=new_tokens, do_sample=False, eos_token_id=sorted(eos) or None,
                                 pad_token_id=(sorted(eos) or [0])[0])
            answer = [int(t) for t in out[0, len(ids):]]
            end = next((i for i, t in enumerate(answer) if t in eos), None)
            answers.append(answer[: end + 1] if end is not None else answer)
    return answers


def verdict(reference: list[list[int]], got: list[list[int]]) -> tuple[str, str, int, int]:
    """(verdict, detail, same first token, same answer): ``identical`` when every answer is equal token by
    token, else ``loads`` with how many prompts agree on the first token and on the whole answer."""
    first = sum(a[:1] == b[:1] for a, b in zip(reference, got))
    whole = sum(a == b for a, b in zip(reference, got))
    n = len(reference)
    if whole == n:
        return "identical", f"{n}/{n} greedy answers equal the workbench's fp32 token by token", first, whole
    prefix = [next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
              for a, b in zip(reference, got)]
    return ("loads", f"{first}/{n} same first token, {whole}/{n} same answer (same prefix: "
            f"{', '.join(map(str, prefix))} tokens) as the workbench's fp32", first, whole)


def check_in_llama_cpp(llama: LlamaPython, gguf: Path, hf_folder: Path, prompts: list[str], *,
                       new_tokens: int = CHECK_TOKENS, threads: int = 1, ppl_ids: list[int] | None = None,
                       reference: list[list[int]] | None = None,
                       log: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """``{"verdict", "detail", ...}`` for ``gguf.json``: the file loaded by llama.cpp and its greedy answers
    to ``prompts`` (the same token ids) against the fp32 model in ``hf_folder`` (or ``reference``, its
    answers computed before); ``failed`` when it does not load; ``not checked`` without llama-cpp-python.
    With ``ppl_ids``, also llama.cpp's perplexity of those ids (``perplexity``)."""
    if llama.python is None:
        return {"verdict": "not checked", "detail": f"{llama.why}; {INSTALL_HINT}"}
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(hf_folder)
    ids = chat_prompt_ids(tokenizer, prompts)
    eos = {int(tokenizer.eos_token_id)} if tokenizer.eos_token_id is not None else set()
    log(f"llama.cpp check: {len(prompts)} prompt(s), {new_tokens} greedy tokens each, in {llama.why}")
    reply = call(llama.python, {"action": "check", "gguf": str(gguf), "prompts": ids, "new_tokens": new_tokens,
                                "eos": sorted(eos), "threads": threads, "ppl_ids": ppl_ids or []})
    if not reply.get("ok"):
        return {"verdict": "failed", "detail": f"llama.cpp did not load or run {gguf.name}: {reply.get('error')}",
                "llama_cpp_python": llama.version}
    if reference is None:
        try:
            reference = torch_greedy(hf_folder, ids, new_tokens, eos, threads)
        except (RuntimeError, IndexError, ValueError) as exc:  # e.g. a tokenizer larger than the model's vocabulary
            return {"verdict": "failed", "detail": f"llama.cpp loaded {gguf.name}, but the workbench's fp32 model "
                    f"could not answer the check prompts: {type(exc).__name__}: {exc}", "llama_cpp_python": llama.version}
    word, detail, first, whole = verdict(reference, reply["answers"])
    return {"verdict": word, "detail": detail, "llama_cpp_python": llama.version, "prompts": prompts,
            "same_first_token": first, "same_answer": whole, "new_tokens": new_tokens,
            "llama_cpp": reply["answers"], "workbench_fp32": reference, "load_s": reply.get("load_s"),
            "perplexity": reply.get("perplexity")}
