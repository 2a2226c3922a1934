"""A quick look at a dataset: its first rows, the detected format, and one rendered sample.

``preview`` reads only the first rows (a JSONL, JSON or CSV file through plain Python, so
the first rows of a 1 GB file take milliseconds and never import ``datasets``); it never
raises for bad rows or an unknown format: what it could not read is in ``issues`` and
``detection.reason``, for a pane to show while the user picks the format.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from .checks import normalise
from .encode import RenderedSample, TrainOn, encoder_for
from .formats import Detection, FormatSpec, detect_format, make_spec
from .issues import DataFormatError, Issue, Loc
from .pipeline import iter_rows
from .sources import Source, open_source
from .template import TextTemplate


@dataclass(frozen=True)
class Preview:
    source: Source
    rows: list[dict[str, Any]]
    """The first rows that are JSON objects (or CSV/Parquet rows), in order."""
    locs: list[Loc]
    """Where each of ``rows`` is in the file."""
    columns: list[str]
    detection: Detection
    issues: list[Issue]
    """Problems in the rows read (unreadable lines, and row checks under the detected format)."""
    seconds: float

    def from_row(self, first: int) -> Preview:
        """Only the rows (and their issues) from row ``first`` on: a window around a row a report named."""
        keep = [i for i, loc in enumerate(self.locs) if loc.row >= first]
        return replace(self, rows=[self.rows[i] for i in keep], locs=[self.locs[i] for i in keep],
                       issues=[i for i in self.issues if (i.row or 0) >= first])


def preview(source: Source | str, n: int = 20, *, format: str | None = None,
            columns: dict[str, str] | None = None, roles: dict[str, str] | None = None) -> Preview:
    start = time.perf_counter()
    if not isinstance(source, Source):
        source = open_source(source)
    raws = list(iter_rows(source, limit=n))
    rows = [r.value for r in raws if r.issue is None and isinstance(r.value, dict)]
    locs = [r.loc for r in raws if r.issue is None and isinstance(r.value, dict)]
    issues = [r.issue for r in raws if r.issue is not None]
    detection = detect_format(rows, columns)
    if format and format != "auto":
        detection = Detection(make_spec(format, columns, roles), "chosen", detection.columns)
    if detection.spec is not None:
        for raw in raws:
            if raw.issue is None:
                issues.extend(normalise(raw.value, detection.spec, raw.loc, source.spec)[1])
    return Preview(source, rows, locs, detection.columns, detection, issues, time.perf_counter() - start)


def preview_as_prepared(source: Source | str, n: int = 20, *, format: str | None = None,
                        columns: dict[str, str] | None = None, roles: dict[str, str] | None = None) -> Preview:
    """``preview`` read as a full pass (``prepare_dataset``) reads the rows: with the format left to
    detection and a column or role mapping given, the detected format with that mapping on top of it
    (the detection's reason kept)."""
    if not isinstance(source, Source):
        source = open_source(source)
    pv = preview(source, n, format=format, columns=columns, roles=roles)
    det = pv.detection
    if (format in (None, "auto")) and det.spec is not None and (columns or roles):
        mapped = preview(source, n, format=det.spec.name, columns={**det.spec.columns, **(columns or {})},
                         roles={**det.spec.roles, **(roles or {})})
        pv = replace(mapped, detection=replace(mapped.detection, reason=det.reason))
    return pv


def to_record(value: Any, *, spec: FormatSpec | None = None, template: str | None = None,
              loc: Loc | None = None, file: str = "row") -> tuple[dict[str, Any] | None, list[Issue]]:
    """A raw row as the canonical record the trainer gets (or the issues that stop it)."""
    loc = loc or Loc(1)
    if template:
        return TextTemplate.parse(template).render(value, loc, file)
    if spec is None:
        spec = detect_format([value]).spec
        if spec is None:
            raise DataFormatError(f"{file}: cannot tell the format of this row", hint="choose a format")
    return normalise(value, spec, loc, file)


def render_sample(value: Any, tokenizer: Any, *, spec: FormatSpec | None = None, template: str | None = None,
                  train_on: TrainOn = "completion", loc: Loc | None = None, file: str = "row") -> RenderedSample:
    """One raw row exactly as the trainer will see it: tokens, which are trained, the count.

    Raises ``DataFormatError`` naming the first problem when the row cannot be used."""
    record, issues = to_record(value, spec=spec, template=template, loc=loc, file=file)
    if record is None:
        first = next(i for i in issues if i.severity == "error")
        raise DataFormatError(first.headline, hint=first.hint)
    encoder = encoder_for(tokenizer, train_on)
    return replace(encoder.sample(record), template=encoder.template_of(record))
