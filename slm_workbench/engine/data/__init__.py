"""Datasets: load, detect the format, validate, render with the loss mask, clean, split, prepare.

The public API a front end calls (the CLI's ``slmw data`` and the TUI's Data pane). Every
function is UI-free, prints nothing, reports progress through ``on_progress(phase, done,
total, unit)`` and honours ``check_cancelled()``; ``datasets``/``transformers`` are imported
only inside the functions that need them, so importing this package is cheap.

- ``open_source(spec)`` -> ``Source``: what a path or hub id is (raises ``DataFileError``).
- ``preview(spec, n)`` -> ``Preview``: first rows, columns, detected format, issues in them.
- ``validate(spec, format=, columns=, roles=, template=, model=, max_length=)`` -> ``ValidationReport``.
- ``load_tokenizer(model, chat_template=None)`` (a shipped or file template instead of the model's own), ``render_sample(row, tokenizer, spec=, template=, train_on=)`` -> ``RenderedSample``.
- ``Encoder(tokenizer, train_on=)`` / ``encode_example(record, tokenizer)``: ids + labels (-100 masked).
- ``prepare_dataset(PrepareDataRecipe, write=)`` -> ``PrepareResult`` (dataset + ``manifest.json``).
- ``histogram(lengths)``, ``histogram_lines(hist)``, ``length_stats(lengths)``.
"""

from __future__ import annotations

from .encode import IGNORE, Encoded, Encoder, RenderedSample, encode_example, encoder_for
from .formats import FORMATS, Detection, FormatSpec, detect_format, make_spec
from .issues import DataFileError, DataFormatError, DataValidationError, Issue
from .prepare import PrepareResult, prepare_dataset, read_manifest
from .preview import Preview, preview, render_sample, to_record
from .sources import Source, open_source
from .stats import Histogram, LengthStats, histogram, histogram_lines, length_stats
from .tokenizer import load_tokenizer
from .validate import ValidationReport, validate

__all__ = [
    "FORMATS", "IGNORE", "DataFileError", "DataFormatError", "DataValidationError", "Detection", "Encoded",
    "Encoder", "FormatSpec", "Histogram", "Issue", "LengthStats", "PrepareResult", "Preview", "RenderedSample",
    "Source", "ValidationReport", "detect_format", "encode_example", "encoder_for", "histogram",
    "histogram_lines", "length_stats", "load_tokenizer", "make_spec", "open_source", "prepare_dataset",
    "preview", "read_manifest", "render_sample", "to_record", "validate",
]
