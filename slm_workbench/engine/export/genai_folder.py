"""What an ONNX Runtime GenAI folder's ``genai_config.json`` says, for everyone who loads one.

Kept apart (no imports beyond the standard library) so that the export's load-back check and the
comparison's measuring process read the config the same way without importing each other.
"""

from __future__ import annotations


def logits_output(genai_config: dict) -> str:
    """The graph output genai_config names as the logits (Olive renames it)."""
    return str(genai_config["model"]["decoder"].get("outputs", {}).get("logits", "logits"))
