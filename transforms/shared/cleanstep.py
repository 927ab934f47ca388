"""The thin Beam shell every per-document cleaning step shares: one document in, at most one
out, and an exception on one document becomes its dead letter instead of failing the job."""

from __future__ import annotations

import apache_beam as beam

from transforms.shared.accounting import FAILED, REJECTED_TAG, BeamCount, Rejected


def _excerpt(doc) -> str:
    """The start of a document's text for a dead letter; never raises on a malformed one."""
    parts = getattr(doc, "paragraphs", None) or ()
    flat = (" ".join(map(str, p)) if isinstance(p, tuple) else str(p) for p in parts)
    return " ".join(flat)[:500]


class CleanStepFn(beam.DoFn):
    """Thin shell shared by the per-document cleaning steps.

    Subclasses implement ``apply(doc) -> element | None``; an exception on one document sends
    it to the ``REJECTED_TAG`` output (counted ``failed``) instead of failing the job.
    """

    step = "clean"

    def __init__(self, cfg) -> None:
        self.cfg = cfg

    def setup(self) -> None:
        self.count = BeamCount()

    def apply(self, doc):  # pragma: no cover - abstract
        raise NotImplementedError

    def process(self, doc):
        try:
            out = self.apply(doc)
        except Exception as exc:  # noqa: BLE001 - any bug on one record becomes a dead letter
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


def apply_step(pcoll, label: str, fn: CleanStepFn):
    """``pcoll | label >> ParDo(fn)`` with the dead letters split off: (docs, rejected)."""
    outputs = pcoll | label >> beam.ParDo(fn).with_outputs(REJECTED_TAG, main="docs")
    return outputs.docs, outputs[REJECTED_TAG]
