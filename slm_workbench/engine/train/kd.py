"""Logit distillation in the training stage: the recipe's ``distill:`` section as a TRL trainer.

The train stage builds one of these instead of ``SFTTrainer`` when ``distill`` is set:

- ``gkd``: TRL's ``GKDTrainer`` (experimental): generalized JSD between the student's and the
  teacher's next-token distributions over the dataset's answers; ``lmbda`` > 0 makes that share of
  batches on-policy (the student answers first), ``seq_kd`` lets the teacher answer. Off-policy
  (``lmbda`` 0) costs one teacher forward per step: what a CPU affords.
- ``distillation``: TRL's ``DistillationTrainer``: always on-policy (every optimizer step the student
  answers each prompt, up to ``max_new_tokens``), the teacher scores the answers.
- ``gold``: TRL's ``GOLDTrainer`` (experimental): the same divergence with ``lmbda`` on-policy batches;
  across tokenizers (a teacher with another vocabulary) it aligns the two tokenizations of each
  answer (ULD loss), so it trains on the prepared dataset's chat rows (``messages``), which it
  tokenizes for each model itself.

Their configs start from the same keyword arguments the stage gives ``SFTConfig`` (fp32 on CPU,
gradient checkpointing only when asked, the recipe's learning rate, steps, batch and cadence) and get
the same callbacks, so metrics.jsonl, live curves, stop -> checkpoint and resume work as for SFT.

``gkd`` and ``distillation`` compare full distributions token by token, so the student and the
teacher must share a vocabulary: ``check_vocabularies`` compares the two tokenizers' token -> id
maps (``tokenizer.json``, read with ``tokenizers``: no model weights, no transformers) and the
embedding sizes, before any weight loads, in the launch check and again in the job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ...config.train import TrainRecipe
from ..errors import WorkbenchError
from ..runs.context import RunContext

# -- vocabularies ------------------------------------------------------------------------
def _vocabulary(folder: Path) -> dict[str, int] | None:
    """The token -> id map of the tokenizer in ``folder`` (with added tokens), None when unreadable."""
    path = Path(folder) / "tokenizer.json"
    if path.is_file():
        from tokenizers import Tokenizer

        try:
            return Tokenizer.from_file(str(path)).get_vocab(with_added_tokens=True)
        except Exception:  # noqa: BLE001 - a tokenizer.json tokenizers cannot read: ask transformers
            pass
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(folder).get_vocab()
    except Exception:  # noqa: BLE001
        return None


def _embedding_rows(folder: Path) -> int | None:
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    config = config.get("text_config", config) if isinstance(config, dict) else {}
    value = config.get("vocab_size")
    return value if isinstance(value, int) else None


def vocabulary_mismatch(student: Path, teacher: Path, method: str, teacher_label: str = "") -> str | None:
    """One line saying why ``method`` cannot distil ``teacher`` into ``student``, or None when it can."""
    if method == "gold":
        return None
    s_vocab, t_vocab = _vocabulary(student), _vocabulary(teacher)
    s_rows, t_rows = _embedding_rows(student), _embedding_rows(teacher)
    who = f" ({teacher_label})" if teacher_label else ""
    advice = (f": {method} matches the two models' next-token distributions and needs a shared vocabulary — "
              "use method sft (response-based: train on the teacher's answers) or gold (across tokenizers)")
    if s_vocab is not None and t_vocab is not None and s_vocab != t_vocab:
        if len(s_vocab) != len(t_vocab):
            return (f"the teacher's vocabulary{who} has {len(t_vocab)} tokens, the student's {len(s_vocab)}" + advice)
        moved = sum(1 for token, i in s_vocab.items() if t_vocab.get(token) != i)
        return (f"the teacher's vocabulary{who} and the student's both have {len(s_vocab)} tokens but {moved} of them "
                "map to other ids" + advice)
    if s_rows is not None and t_rows is not None and s_rows != t_rows:
        return (f"the teacher's embedding{who} has {t_rows} rows (vocab_size in config.json), the student's {s_rows}"
                + advice)
    return None


def launch_errors(recipe: TrainRecipe, student_folder: Path | None) -> list[str]:
    """What no flag fixes about the ``distill`` section, found without loading torch: the launch check."""
    kd = recipe.distill
    if kd is None or kd.method == "gold":
        return []
    from .teacher import teacher_tokenizer_folder

    try:
        teacher = teacher_tokenizer_folder(kd.teacher)
    except WorkbenchError as exc:
        return [f"distill.teacher: {exc}"]
    if teacher is None or student_folder is None:
        return []  # a model still to prepare: the job checks once it is there
    problem = vocabulary_mismatch(student_folder, teacher, kd.method, kd.teacher)
    return [problem] if problem else []


# -- the teacher -------------------------------------------------------------------------
def teacher_folder(recipe: TrainRecipe, ctx: RunContext) -> Path:
    """The teacher's HF folder (a built-in model prepared first, a LoRA run merged once)."""
    from .teacher import teacher_folder as resolve
    from ..first_use import prepare_in_job

    assert recipe.distill is not None
    prepare_in_job(recipe.distill.teacher, ctx)
    return resolve(recipe.distill.teacher, log=lambda line: print(f"[train] {line}", flush=True))


def check_teacher(recipe: TrainRecipe, student_folder: Path, teacher: Path) -> None:
    """Raise the one-line refusal before any weight loads (the launch check may have been skipped)."""
    assert recipe.distill is not None
    problem = vocabulary_mismatch(student_folder, teacher, recipe.distill.method, recipe.distill.teacher)
    if problem:
        raise WorkbenchError(problem)


def load_teacher(recipe: TrainRecipe, folder: Path) -> Any:
    """The teacher in PyTorch: the recipe's dtype, eval mode, no gradients."""
    from transformers import AutoModelForCausalLM

    from .model import resolve_dtype

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=resolve_dtype(recipe),
                                                 trust_remote_code=recipe.trust_remote_code)
    model.eval()
    model.requires_grad_(False)
    model.config.use_cache = True  # it only answers (seq_kd) and scores
    return model


# -- the data ----------------------------------------------------------------------------
@dataclass
class KdCollator:
    """Prepared rows (``input_ids``, ``labels`` with -100 on the prompt) as GKD's batches: right-padded
    sequences plus each row's prompt (the tokens before its first trained label), left-padded for
    on-policy generation."""

    pad_id: int
    max_length: int

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        ids = [list(r["input_ids"])[: self.max_length] for r in rows]
        labels = [list(r["labels"])[: self.max_length] for r in rows]
        width = max(len(x) for x in ids)
        prompts = []
        for seq, lab in zip(ids, labels):
            start = next((i for i, v in enumerate(lab) if v != -100), len(seq))
            prompts.append(seq[: max(1, start)])
        p_width = max(len(p) for p in prompts)

        def right(rows_: list[list[int]], fill: int) -> Any:
            return torch.tensor([r + [fill] * (width - len(r)) for r in rows_], dtype=torch.long)

        return {
            "input_ids": right(ids, self.pad_id),
            "attention_mask": right([[1] * len(x) for x in ids], 0),
            "labels": right(labels, -100),
            "prompts": torch.tensor([[self.pad_id] * (p_width - len(p)) + p for p in prompts], dtype=torch.long),
            "prompt_attention_mask": torch.tensor([[0] * (p_width - len(p)) + [1] * len(p) for p in prompts],
                                                  dtype=torch.long),
        }


def prompt_dataset(split: Any) -> Any:
    """A prepared split as ``DistillationTrainer``'s ``prompt`` column: each row's conversation up to its
    last assistant turn (the student answers it on-policy)."""
    def prompt(row: dict[str, Any]) -> dict[str, Any]:
        messages = row["messages"]
        last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=len(messages))
        return {"prompt": [{"role": m["role"], "content": m["content"]} for m in messages[:last]]}

    if "messages" not in split.column_names:
        raise WorkbenchError("method distillation needs chat rows (a messages column) in the prepared dataset: "
                             "the student answers each conversation's prompt itself")
    return split.map(prompt, remove_columns=split.column_names)


def chat_dataset(split: Any) -> Any:
    """A prepared split as its chat rows only (GOLD tokenizes them for the student and the teacher)."""
    if "messages" not in split.column_names:
        raise WorkbenchError("method gold needs chat rows (a messages column) in the prepared dataset: it tokenizes "
                             "each answer for the student and the teacher itself")
    return split.select_columns(["messages"])


def _raw_splits(data: Any) -> tuple[Any, Any | None]:
    from datasets import load_from_disk

    splits = load_from_disk(str(data.folder))
    evals = splits["eval"] if data.eval is not None and "eval" in splits else None
    return splits["train"], evals


# -- the trainer -------------------------------------------------------------------------
def _only_fields(config_class: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    known = {f.name for f in fields(config_class)}
    return {k: v for k, v in kwargs.items() if k in known}


def build_kd_trainer(recipe: TrainRecipe, ctx: RunContext, loaded: Any, data: Any, teacher: Any, *,
                     student_folder: Path, teacher_folder: Path) -> tuple[Any, tuple[Any, Any]]:
    """The TRL trainer for ``recipe.distill.method`` with the training stage's arguments and callbacks."""
    from .arguments import sft_arguments
    from .callbacks import trainer_callbacks

    kd = recipe.distill
    assert kd is not None
    steps, has_eval, callbacks, stop, nan = trainer_callbacks(recipe, ctx, data)
    common = sft_arguments(recipe, ctx.run_dir, steps=steps, has_eval=has_eval,
                           attn_implementation=getattr(loaded.model.config, "_attn_implementation", None))
    common["packing"] = False  # rows go through the collator one conversation each
    print(f"[train] logit distillation: {kd.method} from {kd.teacher} (temperature {kd.temperature:g}, "
          f"beta {kd.beta:g}" + (f", lmbda {kd.lmbda:g}, seq_kd {kd.seq_kd}" if kd.method == "gkd" else "") + ")",
          flush=True)
    if kd.method == "gkd":
        from trl.experimental.gkd import GKDConfig, GKDTrainer

        args = GKDConfig(**_only_fields(GKDConfig, common), temperature=kd.temperature, lmbda=kd.lmbda, beta=kd.beta,
                         seq_kd=kd.seq_kd, max_new_tokens=kd.max_new_tokens, disable_dropout=True)
        trainer = GKDTrainer(
            model=loaded.model, teacher_model=teacher, args=args,
            data_collator=KdCollator(loaded.tokenizer.pad_token_id, recipe.max_length),
            train_dataset=data.train.remove_columns(["n_tokens"]),
            eval_dataset=data.eval.remove_columns(["n_tokens"]) if has_eval else None,
            processing_class=loaded.tokenizer, callbacks=callbacks,
        )
    elif kd.method == "distillation":
        import copy

        from trl import DistillationConfig, DistillationTrainer

        common["include_num_input_tokens_seen"] = "no"  # the trainer counts prompt + generated tokens itself
        args = DistillationConfig(**_only_fields(DistillationConfig, common), temperature=kd.temperature, beta=kd.beta,
                                  max_completion_length=kd.max_new_tokens)
        train_raw, eval_raw = _raw_splits(data)
        tokenizer = copy.deepcopy(loaded.tokenizer)
        tokenizer.padding_side = "left"
        trainer = DistillationTrainer(
            model=loaded.model, teacher_model=teacher, args=args,
            train_dataset=prompt_dataset(train_raw), eval_dataset=prompt_dataset(eval_raw) if has_eval else None,
            processing_class=tokenizer, callbacks=callbacks,
        )
    else:
        from trl.experimental.gold import GOLDConfig, GOLDTrainer

        across = vocabulary_mismatch(student_folder, teacher_folder, "gkd") is not None
        extended = across and byte_level_pair(loaded.tokenizer, teacher_folder)
        print(f"[train] gold: {'different vocabularies, ULD loss across tokenizers' if across else 'shared vocabulary'}"
              + ("" if extended or not across else " (positional ULD: a tokenizer is not ByteLevel BPE, so TRL's "
                 "byte-aligned extended ULD cannot map its tokens)"), flush=True)
        args = GOLDConfig(**_only_fields(GOLDConfig, common), temperature=kd.temperature, lmbda=kd.lmbda, beta=kd.beta,
                          seq_kd=kd.seq_kd, max_completion_length=kd.max_new_tokens, use_uld_loss=across,
                          use_extended_uld=extended,
                          teacher_tokenizer_name_or_path=str(teacher_folder) if across else None)
        train_raw, eval_raw = _raw_splits(data)
        trainer = GOLDTrainer(
            model=loaded.model, teacher_model=teacher, args=args, train_dataset=chat_dataset(train_raw),
            eval_dataset=chat_dataset(eval_raw) if has_eval else None, processing_class=loaded.tokenizer,
            callbacks=callbacks,
        )
    return trainer, (stop, nan)


def byte_level_pair(student_tokenizer: Any, teacher_folder: Path) -> bool:
    """Whether both tokenizers are ByteLevel BPE (SmolLM, Llama 3, Qwen ...), which TRL's extended ULD
    needs to align tokens by bytes; a SentencePiece one (Gemma) takes the paper's positional ULD instead
    (TRL raises NotImplementedError otherwise, after both models have loaded)."""
    from transformers import AutoTokenizer
    from trl.experimental.utils import is_byte_level_tokenizer

    teacher = AutoTokenizer.from_pretrained(str(teacher_folder))
    return all(is_byte_level_tokenizer(getattr(tok, "backend_tokenizer", None) or tok)
               for tok in (student_tokenizer, teacher))
