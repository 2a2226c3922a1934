"""Baseline for bench/train_overhead.py: the same training as a plain TRL SFTTrainer script.

    python bench/_plain_trl.py MODEL_DIR PREPARED_DATA_DIR STEPS BATCH MAX_LENGTH LORA_R THREADS OUT_JSON
"""

import json
import sys
import time

import torch
from datasets import load_from_disk
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import SFTConfig, SFTTrainer

model_dir, data_dir, steps, batch, max_length, r, threads, out = sys.argv[1:9]
torch.set_num_threads(int(threads))
torch.manual_seed(42)
tokenizer = AutoTokenizer.from_pretrained(model_dir)
model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32),
                       LoraConfig(r=int(r), lora_alpha=2 * int(r), lora_dropout=0.0, target_modules="all-linear",
                                  task_type="CAUSAL_LM"))
train = load_from_disk(data_dir)["train"].select_columns(["input_ids", "labels"])


class Clock(TrainerCallback):
    """Tokens and seconds from the end of step 2 (warm-up excluded) to the end of training."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 2:
            self.start, self.tokens0 = time.perf_counter(), state.num_input_tokens_seen

    def on_train_end(self, args, state, control, **kwargs):
        self.seconds = time.perf_counter() - self.start
        self.tokens = state.num_input_tokens_seen - self.tokens0


clock = Clock()
args = SFTConfig(output_dir="/tmp/plain-trl-out", max_steps=int(steps), per_device_train_batch_size=int(batch),
                 max_length=int(max_length), learning_rate=1e-3, logging_steps=1, save_strategy="no", report_to=[],
                 use_cpu=True, bf16=False, gradient_checkpointing=False, disable_tqdm=True,
                 include_num_input_tokens_seen="non_padding", seed=42, data_seed=42)
SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer, callbacks=[clock]).train()
json.dump({"tokens": clock.tokens, "seconds": clock.seconds}, open(out, "w"))
