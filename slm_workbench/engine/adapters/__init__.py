"""LoRA adapters over one ONNX base, switched per answer (docs/architecture.md): the base that takes
them (``base.py``: ``MODEL:lora-fp32``), each run's adapter as an ``.onnx_adapter`` file and how
``BASE+ADAPTER`` names one (``lora.py``), and the model fingerprint that refuses an adapter trained
on another model (``fingerprint.py``). Chat, serve and eval open them; nothing here imports them."""
