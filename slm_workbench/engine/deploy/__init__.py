"""Deployment targets: Foundry Local packages, GGUF files, the server's load benchmark."""
