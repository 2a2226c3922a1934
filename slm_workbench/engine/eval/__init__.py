"""The one evaluator: examples with references in, per-example scores and bootstrap intervals out.

``slmw eval`` (stage ``eval``), the comparison, distillation and sweeps all score through it,
so "task score" means one thing everywhere (docs/eval.md).
"""
