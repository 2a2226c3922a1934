"""Deployment targets: Foundry Local packages, GGUF files, several LoRA adapters over one ONNX base,
the server and its load benchmark (docs/architecture.md)."""
