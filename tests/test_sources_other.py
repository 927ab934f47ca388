"""Books, protein FASTA and plain-text readers: pure functions, real files, bad input, Beam."""

from __future__ import annotations

import bz2
import gzip
import json
import re

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.read.books import BOOKS_NO_MARKERS, book_paragraphs, strip_gutenberg
from transforms.read.config import ReaderConfig
from transforms.read.fasta import accession_of, normalise_sequence
from transforms.read.files import FILE_RECORD_ID
from transforms.read.rawdoc import RawDoc
from transforms.read.sources import ReadSource, expand_input_pattern, read_file
from transforms.read.textlines import file_stem
from transforms.shared.accounting import CounterDict, Rejected, counters_from_result
from transforms.shared.alphabets import PROTEIN_ALPHABET

LICENCE = re.compile(
    r"Project Gutenberg|START OF TH[EI]S? PROJECT|END OF TH[EI]S? PROJECT|Gutenberg License"
    r"|gutenberg\.(org|net)|This eBook is for the use of anyone",
    re.I,
)


def _read(source, path, cfg=None):
    count = CounterDict()
    items = list(read_file(source, str(path), cfg or ReaderConfig(), count))
    docs = [i for i in items if isinstance(i, RawDoc)]
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert len(docs) + len(rejected) == len(items)
    return docs, rejected, dict(count)


def _balanced(counters: dict) -> bool:
    out = counters.get("read_docs", 0) + counters.get("failed", 0)
    out += sum(v for k, v in counters.items() if k.startswith("dropped_"))
    return counters.get("input", 0) == out


def test_file_stem():
    assert file_stem("/a/b/11-0.txt") == "11-0"
    assert file_stem("gs://b/enwiki-x.xml.bz2") == "enwiki-x"
    assert file_stem("http://h/p/seqs.fasta.gz?x=1") == "seqs"
    assert file_stem("/a/noext") == "noext"


# --- books ----------------------------------------------------------------------------------

_BODY = "It was a dark\nand stormy night.\n\nSecond paragraph\nhere.\n"


@pytest.mark.parametrize(
    "template",
    [
        "Header\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\n{body}*** END OF THE PROJECT GUTENBERG EBOOK X ***\nlicence",
        "Header\n***START OF THE PROJECT GUTENBERG EBOOK X***\n{body}***END OF THE PROJECT GUTENBERG EBOOK X***\nlicence",
        "Header\n*** START OF THIS PROJECT GUTENBERG EBOOK\nTHE TITLE ***\n\nProduced by A Volunteer\n\n{body}\n*** END OF THIS PROJECT GUTENBERG EBOOK\nTHE TITLE ***\n",
        "**The Project Gutenberg Etext**\nsmall print\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n{body}End of the Project Gutenberg EBook of X\nlicence",
        "Header\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\n{body}End of Project Gutenberg's X, by Y\n\n*** END OF THIS PROJECT GUTENBERG EBOOK X ***",
    ],
)  # fmt: skip
def test_strip_gutenberg_marker_variants(template):
    count = CounterDict()
    _, body = strip_gutenberg(template.format(body=_BODY), count)
    assert book_paragraphs(body) == ("It was a dark and stormy night.", "Second paragraph here.")
    assert count == {}


def test_book_without_markers_is_kept_and_counted():
    count = CounterDict()
    header, body = strip_gutenberg(_BODY, count)
    assert header == "" and book_paragraphs(body)[0] == "It was a dark and stormy night."
    assert count == {BOOKS_NO_MARKERS: 1}


@pytest.fixture(scope="module")
def books(shared_data):
    return {p.name: _read("books", p) for p in sorted((shared_data / "books").iterdir())}


def test_all_books_lose_the_licence(books):
    assert len(books) == 9
    for name, (docs, _, counters) in books.items():
        assert counters == {"input_files": 1, "input": 1, "read_docs": 1}, name
        (doc,) = docs
        assert doc.doc_id == f"books:{file_stem(name)}" and doc.title, name
        body = "\n".join(doc.paragraphs)
        assert not LICENCE.search(body), (name, LICENCE.search(body))
        assert "\ufeff" not in body and "\r" not in body
        assert all("\n" not in p and p == p.strip() for p in doc.paragraphs)
        assert len(body) > 15_000


def test_book_specifics(books):
    jekyll = books["43-0.txt"][0][0]  # START marker wraps its title onto the next line
    assert jekyll.paragraphs[0] == "The Strange Case Of Dr. Jekyll And Mr. Hyde"
    earnest = books["pg844.txt"][0][0]  # ***START OF...*** with no spaces
    assert earnest.paragraphs[-1] == "TABLEAU"
    alice = books["11-0.txt"][0][0]
    assert alice.title == "Alice’s Adventures in Wonderland" and alice.lang == "en"
    assert alice.metadata["author"] == "Lewis Carroll" and alice.metadata["ebook_no"] == "11"
    assert books["1952-0.txt"][0][0].title == "The Yellow Wallpaper"  # "Title:" glued to a line
    verne = books["fr_Voyage-au-Centre-de-la-Terre-.txt"][0][0]
    text = " ".join(verne.paragraphs)
    assert verne.lang == "fr" and all(c in text for c in "éèàêçô")
    assert "Le 24 mai 1863" in text


def test_latin1_book_and_undecodable_book(tmp_path):
    text = "Character set encoding: ISO-8859-1\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\n"
    (tmp_path / "latin.txt").write_bytes((text + "Caf\xe9 cr\xe8me.\n").encode("latin-1"))
    docs, _, _ = _read("books", tmp_path / "latin.txt")
    assert docs[0].paragraphs == ("Café crème.",)
    (tmp_path / "bad.txt").write_bytes(b"Some text \xff\xfe\xc3( more text")
    docs, rejected, counters = _read("books", tmp_path / "bad.txt")
    assert docs == [] and [r.reason for r in rejected] == ["undecodable"]
    assert counters["failed"] == 1 and _balanced(counters)


# --- protein --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "accession"),
    [
        ("sp|P12345|NAME_HUMAN Protein OS=Homo sapiens", "P12345"),
        ("tr|A7TBS3|A7TBS3_NEMVE Predicted protein", "A7TBS3"),
        ("UniRef50_A0A1E3NP16 n=1 Tax=X", "UniRef50_A0A1E3NP16"),
        ("938293.PRJEB85.HG003688_1 # 204 # 629", "938293.PRJEB85.HG003688_1"),
        ("0|beta-lactamase_P20P|1.58", "0|beta-lactamase_P20P|1.58"),
    ],
)
def test_accession_of(header, accession):
    assert accession_of(header) == accession


def test_normalise_sequence():
    assert normalise_sequence(b"acdUZOBx*") == (b"ACDXXXXX", 0)
    assert normalise_sequence(b"ACD-J1") == (b"ACD-J1", 3)


def test_fasta_records_wrapped_unwrapped_and_bad(tmp_path):
    fasta = (
        b"ORPHAN\n"
        b">sp|P1|A_B first\nMKV\nuLL*\n"
        b">sp|P1U|A_B same, unwrapped\nMKVULL\n"
        b">bad one\nMK-J\n"
        b">empty\n\n"
        b">huge\n" + b"A" * 80 + b"\n"
    )
    (tmp_path / "x.fasta").write_bytes(fasta)
    docs, rejected, counters = _read(
        "protein", tmp_path / "x.fasta", ReaderConfig(max_record_bytes=50)
    )
    assert [(d.doc_id, d.paragraphs) for d in docs] == [
        ("protein:P1", ("MKVXLL",)),
        ("protein:P1U", ("MKVXLL",)),
    ]
    assert docs[0].metadata == {"accession": "P1", "header": "sp|P1|A_B first"}
    assert docs[0].lang == "protein"
    assert sorted((r.reason, r.record_id) for r in rejected) == [
        ("missing_header", "x:1"),
        ("too_large", "huge"),
    ]
    assert counters == {
        "input_files": 1, "input": 6, "read_docs": 2, "dropped_invalid_residues": 1,
        "dropped_empty": 1, "failed": 2,
    }  # fmt: skip


def test_all_protein_files(shared_data):
    valid = set(PROTEIN_ALPHABET)
    for path in sorted((shared_data / "protein").iterdir()):
        records = path.read_bytes().count(b"\n>") + path.read_bytes().startswith(b">")
        docs, rejected, counters = _read("protein", path)
        assert rejected == [] and counters["input"] == records, path.name
        drops = sum(v for k, v in counters.items() if k.startswith("dropped_"))
        assert len(docs) == records - drops and _balanced(counters)
        assert len({d.doc_id for d in docs}) == len(docs)
        for doc in docs:
            (seq,) = doc.paragraphs
            assert seq and set(seq) <= valid, (doc.doc_id, set(seq) - valid)


# --- plain text -----------------------------------------------------------------------------


def test_bert_sample_blank_line_and_lines(shared_data):
    path = shared_data / "bert" / "sample_text.txt"
    docs, _, counters = _read("text", path, ReaderConfig(text_format="blank_line"))
    blocks = [b for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    assert len(docs) == len(blocks) and counters["input"] == len(blocks)
    assert [len(d.paragraphs) for d in docs] == [len(b.strip().splitlines()) for b in blocks]
    assert docs[0].paragraphs[0].endswith("力加勝北区ᴵᴺᵀᵃছজটডণত")
    assert docs[1].doc_id == "text:sample_text:5"
    docs, _, counters = _read("text", path, ReaderConfig(text_format="lines"))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert counters["input"] == len(lines) and len(docs) == sum(bool(x.strip()) for x in lines)
    assert _balanced(counters)


def test_udhr_files_whole_file_format(shared_data):
    paths = sorted((shared_data / "multilingual" / "udhr2").glob("*.txt"))
    cfg = ReaderConfig(text_format="file")
    for path in paths:
        docs, rejected, counters = _read("text", path, cfg)
        assert counters == {"input_files": 1, "input": 1, "read_docs": 1}, path.name
        (doc,) = docs
        assert doc.doc_id == f"text:{path.stem}:1" and len(doc.paragraphs) >= 30
        assert all("\n" not in p and p == p.strip() for p in doc.paragraphs)
    docs, _, _ = _read("text", shared_data / "multilingual" / "udhr2" / "rus.txt", cfg)
    assert "Статья 1" in " ".join(docs[0].paragraphs)


def test_tatoeba_tsv(shared_data):
    path = shared_data / "multilingual" / "tatoeba_nonascii_CC0_sample.tsv"
    docs, rejected, counters = _read("text", path, ReaderConfig(text_format="tsv"))
    assert counters == {"input_files": 1, "input": 11553, "read_docs": 11553} and not rejected
    langs = [d.lang for d in docs]
    assert langs.count(None) == 12 and langs.count("rus") == 2000
    first = docs[0]
    assert first.metadata == {"line": 1, "id": "422178"} and first.lang == "ukr"
    assert first.paragraphs == ("Найбільше багатство – здоров'я.",)


def test_jsonl_tsv_lines_bad_records(tmp_path):
    jsonl = tmp_path / "docs.jsonl.gz"
    with gzip.open(jsonl, "wt", encoding="utf-8") as f:
        f.write('{"text": "First line.\\nSecond line.", "lang": "de"}\n{bad json\n\n')
        f.write('{"text": ""}\n{"other": 1}\n{"text": "' + "x" * 100 + '"}\n')
    docs, rejected, counters = _read("text", jsonl, ReaderConfig("jsonl", max_record_bytes=80))
    assert [(d.doc_id, d.paragraphs, d.lang) for d in docs] == [
        ("text:docs:1", ("First line.", "Second line."), "de")
    ]
    assert [(r.record_id, r.reason) for r in rejected] == [
        ("docs:2", "bad_json"), ("docs:5", "missing_text_field"), ("docs:6", "too_large")
    ]  # fmt: skip
    assert counters["dropped_empty"] == 2 and _balanced(counters)
    tsv = tmp_path / "rows.tsv"
    tsv.write_bytes(b"1\ten\tHello there.\n2\ten\n3\t\\N\tNo lang.\n4\tfr\t\xff\xfe\n")
    docs, rejected, counters = _read("text", tsv, ReaderConfig("tsv"))
    assert [(d.paragraphs[0], d.lang) for d in docs] == [("Hello there.", "en"), ("No lang.", None)]
    assert [r.reason for r in rejected] == ["bad_tsv_row", "undecodable"]
    assert counters["input"] == 4 and _balanced(counters)


def test_blank_line_format_bad_blocks(tmp_path):
    path = tmp_path / "docs.txt"
    path.write_bytes(b"a1\na2\n\n\nb1 \xff\nb2\n\nc1\n" + b"c" * 60 + b"\n\n d1\n")
    docs, rejected, counters = _read("text", path, ReaderConfig("blank_line", max_record_bytes=40))
    assert [d.paragraphs for d in docs] == [("a1", "a2"), ("d1",)]
    assert [(r.record_id, r.reason) for r in rejected] == [
        ("docs:5", "undecodable"), ("docs:8", "too_large")
    ]  # fmt: skip
    assert counters["input"] == 4 and _balanced(counters)


_LINES = b"".join(b">s%d\nline %d of text\n" % (i, i * i) for i in range(40_000))


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty_file"),
        ("junk.txt", bytes(range(256)) * 8, "binary_file"),
        ("cut.txt.bz2", bz2.compress(_LINES)[:40_000], "truncated_stream"),
        ("cut.txt.gz", gzip.compress(_LINES)[:40_000], "truncated_stream"),
        ("junk.txt.gz", b"\x1f\x8b" + bytes(range(256)), "corrupt_stream"),
    ],
)
@pytest.mark.parametrize("source", ["books", "protein", "text"])
def test_bad_files(tmp_path, name, content, reason, source):
    (tmp_path / name).write_bytes(content)
    docs, rejected, counters = _read(source, tmp_path / name)
    assert [(r.record_id, r.reason) for r in rejected][-1:] == [(FILE_RECORD_ID, reason)]
    assert counters["failed_files"] == 1 and _balanced(counters)
    assert name in rejected[-1].source_file


@pytest.mark.parametrize("ext", ["zst", "xz", "gz", "bz2"])
def test_compressed_text_and_truncation_keeps_what_came_before(tmp_path, ext):
    import lzma

    import zstandard

    compress = {
        "zst": zstandard.ZstdCompressor().compress, "xz": lzma.compress,
        "gz": gzip.compress, "bz2": bz2.compress,
    }[ext]  # fmt: skip
    lines = b"".join(b"line %d of text %d\n" % (i, i * i) for i in range(100_000))
    packed = compress(lines)
    (tmp_path / f"ok.txt.{ext}").write_bytes(packed)
    docs, rejected, _ = _read("text", tmp_path / f"ok.txt.{ext}")
    assert len(docs) == 100_000 and not rejected
    assert docs[-1].paragraphs == ("line 99999 of text 9999800001",)
    (tmp_path / f"cut.txt.{ext}").write_bytes(packed[: len(packed) * 3 // 4])
    docs, rejected, counters = _read("text", tmp_path / f"cut.txt.{ext}")
    assert [r.reason for r in rejected] == ["truncated_stream"]
    # All lines but those of the last read (<= 64 KiB, bz2: one 900 kB block) are kept.
    assert len(docs) > (40_000 if ext == "bz2" else 70_000) and _balanced(counters)
    assert [d.metadata["line"] for d in docs] == list(range(1, len(docs) + 1))


def test_missing_file_is_a_dead_letter(tmp_path):
    docs, rejected, counters = _read("text", tmp_path / "nope.txt")
    assert [r.reason for r in rejected] == ["not_found"] and counters["failed_files"] == 1


def test_expand_input_pattern(tmp_path):
    for name in ("a.txt", "b.txt", "c.fasta"):
        (tmp_path / name).write_text("x\n")
    (tmp_path / "sub").mkdir()
    assert expand_input_pattern(f"{tmp_path}/*.txt") == [f"{tmp_path}/a.txt", f"{tmp_path}/b.txt"]
    got = expand_input_pattern(f"{tmp_path}, http://h/x.bz2 ,{tmp_path}/c.fasta")
    assert got == sorted(
        [f"{tmp_path}/{n}" for n in ("a.txt", "b.txt", "c.fasta")] + ["http://h/x.bz2"]
    )
    with pytest.raises(ValueError, match="matches no files"):
        expand_input_pattern(f"{tmp_path}/*.nothing")
    with pytest.raises(ValueError, match="source must be one of"):
        ReadSource("pdf", str(tmp_path))
    with pytest.raises(ValueError, match="text_format"):
        ReaderConfig(text_format="csv")


# --- Beam -----------------------------------------------------------------------------------


def _ids(docs):
    return docs | beam.Map(lambda d: d.doc_id.split(":")[0]) | beam.combiners.Count.PerElement()


@pytest.mark.parametrize("workers", [1, 2])
def test_read_source_books_protein_text(shared_data, tmp_path, workers):
    (tmp_path / "junk.fasta").write_bytes(b"\x00" * 10)
    flags = ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
    with test_pipeline.TestPipeline(options=PipelineOptions(flags if workers > 1 else [])) as p:
        books, books_bad = p | "Books" >> ReadSource("books", str(shared_data / "books"))
        protein, protein_bad = p | "Protein" >> ReadSource(
            "protein", f"{shared_data}/protein/*.fasta,{tmp_path}/junk.fasta"
        )
        text, text_bad = p | "Text" >> ReadSource(
            "text", str(shared_data / "multilingual" / "udhr2" / "*.txt"), ReaderConfig("file")
        )
        merged = (books, protein, text) | beam.Flatten()
        assert_that(_ids(merged), equal_to([("books", 9), ("protein", 5912), ("text", 22)]))
        reasons = (books_bad, protein_bad, text_bad) | "FlattenBad" >> beam.Flatten()
        assert_that(
            reasons | beam.Map(lambda j: json.loads(j)["reason"]),
            equal_to(["binary_file"]),
            label="rejected",
        )
    counters = counters_from_result(p.result)
    assert counters["input_files"] == 9 + 4 + 22 and counters["failed_files"] == 1
    assert counters["input"] == counters["read_docs"] == 9 + 5912 + 22
