"""The thin Beam shell every per-document cleaning step shares: one document in, at most one
out, and an exception on one document becomes its dead letter instead of failing the job.
With ``--keep_dropped`` a document the step drops also goes, with its reasons, to the
exclusion writer (transforms/shared/exclusions.py)."""

from __future__ import annotations

import apache_beam as beam

from transforms.shared.accounting import (
    FAILED,
    REJECTED_TAG,
    BeamCount,
    Count,
    DropRecorder,
    Rejected,
)
from transforms.shared.exclusions import DROPPED_TAG, KeepDropped, WriteDropped, dropped_row


def _excerpt(doc) -> str:
    """The start of a document's text for a dead letter; never raises on a malformed one."""
    parts = getattr(doc, "paragraphs", None) or ()
    flat = (" ".join(map(str, p)) if isinstance(p, tuple) else str(p) for p in parts)
    return " ".join(flat)[:500]


class CleanStepFn(beam.DoFn):
    """Thin shell shared by the per-document cleaning steps.

    Subclasses implement ``apply(doc) -> element | None``; an exception on one document sends
    it to the ``REJECTED_TAG`` output (counted ``failed``) instead of failing the job. With
    ``keep`` set, a document ``apply`` drops (having counted ``dropped_<reason>``) goes to the
    ``DROPPED_TAG`` output as a dropped row, in the state ``dropped_state`` gives.
    """

    step = "clean"
    keep: KeepDropped | None = None  # set by apply_step

    def __init__(self, cfg) -> None:
        self.cfg = cfg

    def setup(self) -> None:
        # The recorder only where drops are kept: with the flag off, counting is unchanged.
        self.recorder = None if self.keep is None else DropRecorder(BeamCount())
        self.count: Count = self.recorder or BeamCount()

    def apply(self, doc):  # pragma: no cover - abstract
        raise NotImplementedError

    def dropped_state(self, doc):
        """The document as the rule that dropped it saw it (default: as it entered the step)."""
        return doc

    def process(self, doc):
        try:
            out = self.apply(doc)
        except Exception as exc:  # noqa: BLE001 - any bug on one record becomes a dead letter
            if self.recorder is not None:
                self.recorder.take()  # a drop noted before the failure is not its fate
            self.count(FAILED)
            yield beam.pvalue.TaggedOutput(
                REJECTED_TAG,
                Rejected(
                    source_file=str(getattr(doc, "source_file", "") or ""),
                    record_id=str(getattr(doc, "doc_id", "")),
                    reason=f"{self.step}_error",
                    detail=f"{type(exc).__name__}: {exc}",
                    excerpt=_excerpt(doc),
                ).to_json(),
            )
            return
        if out is not None:
            yield out
        if self.recorder is not None and self.keep is not None:
            reasons = self.recorder.take()
            if out is None and reasons and self.keep.keeps(doc.doc_id):
                row = dropped_row(self.dropped_state(doc), self.step, reasons)
                yield beam.pvalue.TaggedOutput(DROPPED_TAG, row)


def apply_step(pcoll, label: str, fn: CleanStepFn, keep: KeepDropped | None = None):
    """``pcoll | label >> ParDo(fn)`` with the dead letters split off: (docs, rejected).

    With ``keep``, the documents ``fn`` drops are written under ``keep.output_dir/<fn.step>``.
    """
    if keep is None:
        outputs = pcoll | label >> beam.ParDo(fn).with_outputs(REJECTED_TAG, main="docs")
        return outputs.docs, outputs[REJECTED_TAG]
    fn.keep = keep
    outputs = pcoll | label >> beam.ParDo(fn).with_outputs(REJECTED_TAG, DROPPED_TAG, main="docs")
    _ = outputs[DROPPED_TAG] | f"{label}Dropped" >> WriteDropped(keep, fn.step)
    return outputs.docs, outputs[REJECTED_TAG]
