"""The Textual front end: a thin view over the engine's run directories.

Import cost matters here (the TUI must open instantly): nothing in this package imports
torch, transformers, datasets, peft, trl, onnxruntime, olive or accelerate at module level.
"""
