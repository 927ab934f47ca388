"""FASTA / UniRef protein files -> one RawDoc per sequence.

Residues are upper-cased; the rare U (selenocysteine), O (pyrrolysine) and the ambiguity codes
B and Z become X; a terminal ``*`` (stop codon, as in Prodigal ``.faa`` files) is removed.
A sequence with any other character is dropped (``dropped_invalid_residues``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from schemas.document import PROTEIN
from transforms.read.config import ReaderConfig
from transforms.read.rawdoc import RawDoc
from transforms.read.textlines import (
    READ_DOCS,
    TOO_LARGE,
    UNDECODABLE,
    file_stem,
    iter_lines,
    reject,
)
from transforms.shared.accounting import DROPPED_EMPTY, INPUT, Count, Rejected, dropped
from transforms.shared.alphabets import PROTEIN_ALPHABET, RARE_RESIDUES, UNKNOWN_RESIDUE

DROPPED_INVALID_RESIDUES = dropped("invalid_residues")
_RARE_TO_X = bytes.maketrans(RARE_RESIDUES.encode(), UNKNOWN_RESIDUE.encode() * len(RARE_RESIDUES))
_INVALID = re.compile(f"[^{''.join(sorted(PROTEIN_ALPHABET))}]".encode())
_UNIPROT = re.compile(r"(?:sp|tr)\|([^|\s]+)\|")


def accession_of(header: str) -> str:
    """``sp|P12345|NAME_HUMAN ...`` -> P12345; ``UniRef50_X ...`` -> UniRef50_X; else the first
    whitespace-separated token."""
    m = _UNIPROT.match(header)
    if m:
        return m.group(1)
    token = header.split(None, 1)
    return token[0] if token else ""


def normalise_sequence(raw: bytes) -> tuple[bytes, int]:
    """(upper-cased residues with rare ones mapped to X, number of invalid characters)."""
    seq = raw.upper().translate(_RARE_TO_X, b" \t\r")
    if seq.endswith(b"*"):
        seq = seq[:-1]
    return seq, len(_INVALID.findall(seq))


def read_fasta(
    stream: BinaryIO, *, source_file: str, cfg: ReaderConfig, count: Count
) -> Iterator[RawDoc | Rejected]:
    """One FASTA file (wrapped or unwrapped) -> RawDoc ``protein:<accession>`` per record.

    Counters: input (one per ``>`` record, plus sequence lines before the first header),
    read_docs, dropped_empty, dropped_invalid_residues, failed (too_large, undecodable,
    missing_header).
    """
    max_bytes = cfg.max_record_bytes
    stem = file_stem(source_file)
    header: bytes | None = None
    header_id = ""
    parts: list[bytes] = []
    size, too_large, orphan_line = 0, False, 0
    for line_no, line in iter_lines(stream, max_bytes):
        if line is not None and line.startswith(b">"):
            if header is not None:
                yield from _finish(header, header_id, parts, too_large, source_file, cfg, count)
            header, parts, size, too_large = line[1:], [], 0, False
            header_id = f"{stem}:{line_no}"  # the record's name where it has no accession
            continue
        if header is None:
            if line is None or line.strip():
                orphan_line = orphan_line or line_no
            continue
        if line is None or (max_bytes and size + len(line) > max_bytes):
            too_large, parts = True, []
        elif not too_large:
            parts.append(line)
            size += len(line)
    if header is not None:
        yield from _finish(header, header_id, parts, too_large, source_file, cfg, count)
    if orphan_line:  # sequence data with no header: one malformed record
        count(INPUT)
        detail = f"sequence lines before the first '>' (from line {orphan_line})"
        yield reject(count, source_file, f"{stem}:{orphan_line}", "missing_header", detail)


def _finish(
    header_bytes: bytes,
    header_id: str,
    parts: list[bytes],
    too_large: bool,
    source_file: str,
    cfg: ReaderConfig,
    count: Count,
) -> Iterator[RawDoc | Rejected]:
    count(INPUT)
    try:
        header = header_bytes.decode("utf-8").strip()
    except UnicodeDecodeError as e:
        yield reject(count, source_file, header_id, UNDECODABLE, f"header: {e}", header_bytes)
        return
    accession = accession_of(header) or header_id
    if too_large:
        detail = f"sequence over {cfg.max_record_bytes} B"
        yield reject(count, source_file, accession, TOO_LARGE, detail, header)
        return
    seq, invalid = normalise_sequence(b"".join(parts))
    if not seq:
        count(DROPPED_EMPTY)
        return
    if invalid:
        count(DROPPED_INVALID_RESIDUES)
        return
    count(READ_DOCS)
    yield RawDoc(
        doc_id=f"protein:{accession}",
        source=PROTEIN,
        paragraphs=(seq.decode("ascii"),),
        lang=PROTEIN,
        source_file=source_file,
        metadata={"accession": accession, "header": header},
    )
