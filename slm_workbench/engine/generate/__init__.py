"""Stage ``data.generate``: a teacher (a model, run, variant or endpoint) answers prompts, each
answer is judged by the filters, and the kept ones become a chat dataset (``stage.py``)."""
