"""Stage ``deploy.gguf``: a GGUF file plus an Ollama Modelfile (``stage.py``), written by the
workbench itself (``write``) or by llama.cpp (``llamacpp``), with its chat template (``modelfile``)."""
