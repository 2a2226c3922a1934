"""Running a model to measure it, from token ids (``backends.py``): PyTorch (the reference) and ONNX
Runtime GenAI, chunked NLL and timed decoding. Its users: ``compare`` (variants against the
reference), ``eval`` (a local target's answers and perplexity), ``distill`` (a teacher's sampled
answers, the card). It imports none of them."""
