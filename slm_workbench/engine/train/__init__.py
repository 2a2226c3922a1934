"""Fine-tuning: TRL's SFTTrainer over a prepared dataset, full / LoRA / QLoRA, as a job.

- ``data.py``      the training splits (a prepared folder, or a raw source prepared first)
- ``model.py``     load the base, attach PEFT adapters, 4-bit for QLoRA
- ``arguments.py`` the recipe as an ``SFTConfig`` (CPU-safe precision, cadence)
- ``callbacks.py`` metrics.jsonl, checkpoint events, stop requests, NaN guard
- ``memory.py``    the memory-fit estimate shown before launch
- ``checkpoints.py`` find the latest complete checkpoint to resume from
- ``stage.py``     the ``train`` job: all of the above, then the artifacts
- ``distributed.py`` several processes through torchrun
"""
