"""UI-free core of the workbench. The CLI and the TUI both call into this package.

Nothing here imports Textual, and nothing imported at package level pulls in the ML
stack (torch, transformers, datasets, ...): those are imported inside the functions and
job stages that need them, so that the TUI opens instantly.
"""
