"""The demo dataset shipped with the workbench (see README.md in this folder).

``DEMO_DATASET`` is the JSONL file; ``slmw:demo`` names it wherever a dataset is expected
(``slmw data prepare slmw:demo -o OUT``, a recipe's ``source: slmw:demo``). ``DEMO_EVAL``
(``slmw:demo-eval``) holds 64 extraction examples built from names and cities that never
occur in the training file: ``slmw eval TARGET --data slmw:demo-eval``. ``DEMO_PROMPTS``
(``slmw:demo-prompts``) holds 640 extraction prompts in neither file (half with made-up names),
with their expected answers: what a teacher answers in the distillation demo, its checker judging.
"""

from __future__ import annotations

from pathlib import Path

DEMO_DATASET = Path(__file__).with_name("demo_chat.jsonl")
DEMO_EVAL = Path(__file__).with_name("demo_eval.jsonl")
DEMO_PROMPTS = Path(__file__).with_name("demo_prompts.jsonl")
DEMO_FILES = {"slmw:demo": DEMO_DATASET, "slmw:demo-eval": DEMO_EVAL, "slmw:demo-prompts": DEMO_PROMPTS}
"""Each shipped demo file by the name that stands for it wherever data is asked for."""
DEMO_SOURCE = "slmw:demo"
