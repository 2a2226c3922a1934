"""Deployment: adapters over one ONNX base, packages and servers (docs/architecture.md)."""
