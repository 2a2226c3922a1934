"""Export a model, a run or any HF folder to ONNX Runtime GenAI variants (``slmw export``).

- ``presets.py``       the variants by name (fp32, fp16, int8, int4, int4-hq, int4-olive) and their knobs
- ``merge.py``         a run's LoRA adapter merged into its base once (what MODEL_OR_RUN names: ``engine/model_source.py``)
- ``builder.py``       the onnxruntime-genai model builder in a child process
- ``offset_quant.py``  our int4 pass: 4-bit blocks with exact offsets, folded into MatMulNBits' fast kernel
- ``olive_path.py``    Olive RTN int4 over the builder's fp32 graph (the second path)
- ``export.py``        build, load back, describe (``slmw_variant.json``) and move into place
- ``genai_folder.py``  what a GenAI folder's config names (shared with ``compare``, which builds on export)
- ``stage.py``         the ``export`` job (its progress reporting is shared by the ``compare`` job)

Nothing here imports the ML stack at module level except where a function needs it.
"""
