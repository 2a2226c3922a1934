"""Chat templates shipped with the workbench (package data, read by ``engine/models/chat_template.py``):
``chatml.jinja`` (ChatML as SmolLM2 and Qwen write it) and ``gemma.jinja`` (Gemma 3's own template)."""
