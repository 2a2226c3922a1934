"""Deployment targets: Foundry Local packages, GGUF files, the server's load benchmark
(docs/architecture.md). LoRA adapters over one ONNX base are ``engine/adapters/``."""
