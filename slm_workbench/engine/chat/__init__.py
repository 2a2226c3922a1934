"""Chat with any model the workbench knows: transformers (± LoRA adapter), an ONNX Runtime
GenAI variant, or an OpenAI-compatible endpoint, through one small interface.

- ``types.py``     ``ChatBackend`` (``stream(messages, params, stop) -> Delta``), ``GenParams``, ``Reply``
- ``locate.py``    a target spec (``engine/model_source.py``) as the backend that opens it, without loading anything
- ``registry.py``  backends as lazily imported plugins; ``open_backend(spec)``
- ``session.py``   one answer, timed the same way for every backend; batching for UIs
- ``compare.py``   side by side: several backends on one prompt (their diff: ``engine/textdiff.py``)
- ``history.py``   conversations saved per workspace (JSONL), exported as a chat dataset
- ``template_check.py``  the chat-template round trip: training -> exported folder -> serving

Nothing here imports torch, transformers or onnxruntime at module level.
"""
