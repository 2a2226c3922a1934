"""Models: resolve a name, folder, GGUF file or hub id to a local Hugging Face folder."""
