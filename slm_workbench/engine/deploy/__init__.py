"""Deployment targets: each builds, as a job, what a model needs where it will run.

``gguf*``: a GGUF file and an Ollama Modelfile for llama.cpp and Ollama (stage ``deploy.gguf``).
"""
