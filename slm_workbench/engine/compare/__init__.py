"""Compare exported variants with the PyTorch reference (``slmw compare``, the Quantize & Compare pane).

- ``evalset.py``   the token ids every model is measured on (held-out prose or eval data), computed once
- ``measure.py``   one model in one fresh process (peak RSS is its own)
- ``judge.py``     agreement with the reference, degenerate output, the broken rule, task F1
- ``report.py``    ``report.json`` (what a pane reads: ``load_report``), Markdown and CSV
- ``progress.py``  where a running export/compare job stands per variant (what a pane shows before the report)
- ``compare.py``   ``compare_variants``: measure everything, judge, rank
- ``stage.py``     the ``compare`` job: build missing variants, compare, write the report
"""
