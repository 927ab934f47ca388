"""Full ``pipeline.shards`` runs on ../shared/data, read back through EXAMPLE_SCHEMA.

Cleaned documents come from ``pipeline.clean`` when it has a ``run``; until then from a crude
stand-in (``fallback_*`` below: wikitext -> paragraphs, regex sentence split).
"""

from __future__ import annotations

import bz2
import json
import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from schemas.document import Doc
from schemas.example import (
    EXAMPLE_SCHEMA,
    NO_PAIR,
    PAIR_IS_NEXT,
    PAIR_RANDOM_NEXT,
    SOP_IN_ORDER,
    SOP_SWAPPED,
)
from schemas.shards import open_shard_set, read_manifest, shard_paths
from tests.corpus_fixtures import book_docs, sample_text_docs, write_doc_shard_set
from transforms.pack.tokenize import continuation_table, tokenize_docs
from transforms.shared.accounting import CounterDict

MULTI = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")
WIKI_FILES = {
    "en": "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
    "ja": "jawiki-20230501-pages-articles-first238pages.xml.bz2",
    "uk": "ukwiki-20230501-pages-articles-first300pages.xml.bz2",
    "bg": "bgwiki-latest-pages-articles-shortened.xml.bz2",
}


# --- cleaned documents -----------------------------------------------------------------------


def fallback_wiki_docs(path: Path, lang: str, max_pages: int | None = None) -> list[Doc]:
    """Articles (ns 0, no redirects) -> Docs: transforms.read.wikitext paragraphs, regex sentences."""
    from transforms.read.wikitext import wikitext_to_paragraphs

    root = ET.fromstring(bz2.open(path).read())
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    docs = []
    for page in root.iter(f"{ns}page"):
        if page.findtext(f"{ns}ns") != "0" or page.find(f"{ns}redirect") is not None:
            continue
        text = page.findtext(f"{ns}revision/{ns}text") or ""
        paragraphs = tuple(
            tuple(s.strip() for s in _SENTENCE_END.split(p) if s.strip())
            for p in wikitext_to_paragraphs(text)
        )
        paragraphs = tuple(p for p in paragraphs if p)
        if paragraphs:
            docs.append(Doc(f"wiki:{lang}:{page.findtext(f'{ns}id')}", "wiki", lang, paragraphs))
        if max_pages and len(docs) >= max_pages:
            break
    return docs


def fallback_protein_docs(shared_data: Path) -> list[Doc]:
    docs = []
    for path in sorted((shared_data / "protein").glob("*.fa*")):
        if path.name.startswith("esm_P62593"):  # near-identical variants: dedup's job
            continue
        header, seq = None, []
        for line in [*path.read_text().splitlines(), ">"]:
            if line.startswith(">"):
                if header is not None and seq:
                    residues = re.sub("[^A-Z]", "X", "".join(seq).upper())
                    docs.append(
                        Doc(
                            f"protein:{path.stem}:{len(docs)}", "protein", "protein", ((residues,),)
                        )
                    )
                header, seq = line, []
            else:
                seq.append(line.strip())
    return docs


def _split_sentences(doc: Doc) -> Doc:
    paragraphs = tuple(
        tuple(s for para in p for s in _SENTENCE_END.split(para) if s.strip())
        for p in doc.paragraphs
    )
    return Doc(doc.doc_id, doc.source, doc.lang, paragraphs, source_file=doc.source_file)


def _clean_job_available() -> bool:
    if os.environ.get("BERTCORPUS_PACK_TEST_FALLBACK"):  # the stand-in, even with pipeline.clean
        return False
    try:
        import pipeline.clean as clean
    except ImportError:
        return False
    return hasattr(clean, "run")


@pytest.fixture(scope="session")
def corpus(shared_data, tmp_path_factory) -> dict[str, str]:
    """Cleaned-document shard sets by name: wiki (en, ja, uk, bg), books (+sample), protein."""
    root = tmp_path_factory.mktemp("clean")
    data = shared_data
    if _clean_job_available():
        jobs = {
            "wiki_en": ["--source", "wiki", "--input", str(data / "wiki" / WIKI_FILES["en"]), "--lang", "en"],
            "wiki_multi": ["--source", "wiki", "--input", ",".join(str(data / "wiki" / WIKI_FILES[k]) for k in ("ja", "uk", "bg"))],
            "books": ["--source", "books", "--input", str(data / "books" / "*.txt")],
            "sample": ["--source", "text", "--input", str(data / "bert" / "sample_text.txt"), "--text_format", "blank_line", "--lang", "en"],
            "protein": ["--source", "protein", "--input", ",".join(str(p) for p in sorted((data / "protein").glob("*.fa*")) if "P62593" not in p.name)],
        }  # fmt: skip
        argvs = [[*a, "--output", str(root / k), "--num_shards", "2"] for k, a in jobs.items()]
        # A subprocess: Beam parses every PipelineOptions subclass of a process together, so
        # the clean job's options would stay registered in ours.
        code = "import json,sys\nfrom pipeline.clean import run\nfor a in json.loads(sys.argv[1]): run(a)"
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        subprocess.run([sys.executable, "-c", code, json.dumps(argvs)], check=True, env=env)
        return {k: str(root / k) for k in jobs} | _edge(root)
    sets = {
        "wiki_en": fallback_wiki_docs(data / "wiki" / WIKI_FILES["en"], "en"),
        "wiki_multi": [
            d
            for k in ("ja", "uk", "bg")
            for d in fallback_wiki_docs(data / "wiki" / WIKI_FILES[k], k, 60)
        ],
        "books": [_split_sentences(d) for d in book_docs(data)],
        "sample": sample_text_docs(data),
        "protein": fallback_protein_docs(data),
    }
    return {k: write_doc_shard_set(root / k, docs) for k, docs in sets.items()} | _edge(root)


def _edge(root: Path) -> dict[str, str]:
    """Tiny own fixture: a document without tokens and a one-token one (too short for a pair)."""
    docs = [Doc("text:empty", "text", "en", ((" ",),)), Doc("text:one", "text", "en", (("Hi",),))]
    return {"edge": write_doc_shard_set(root / "edge", docs, num_shards=1)}


@pytest.fixture(scope="session")
def tok_dir(shared_data, tmp_path_factory) -> str:
    from transforms.vocab.tokenizer_dir import tokenizer_from_vocab

    out = tmp_path_factory.mktemp("tok")
    vocab = shared_data / "vocab" / "bert-base-uncased-vocab_from_all-MiniLM-L6-v2.txt"
    tokenizer_from_vocab(str(vocab), str(out), True)
    return str(out)


@pytest.fixture(scope="session")
def residue_tok_dir(tmp_path_factory) -> str:
    from tokenizers import Tokenizer, models, pre_tokenizers

    out = tmp_path_factory.mktemp("residues")
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"ACDEFGHIKLMNPQRSTVWYX"]
    tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(tokens)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok.save(str(out / "tokenizer.json"))
    return str(out)


def _run(out: Path, inputs: list[str], tok: str, *flags: str) -> dict:
    from pipeline.shards import run

    return run(["--input", ",".join(inputs), "--tokenizer", tok, "--output", str(out), *flags])


def _rows(out: Path) -> list[dict]:
    _, tables = open_shard_set(str(out), schema=EXAMPLE_SCHEMA)
    return [r for t in tables for r in t.to_pylist()]


# --- NSP on wiki (several languages) + books -----------------------------------------------------


@pytest.fixture(scope="module")
def nsp(corpus, tok_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("nsp") / "shards"
    inputs = [corpus["wiki_en"], corpus["wiki_multi"], corpus["books"], corpus["sample"]]
    stats = _run(out, inputs, tok_dir, "--max_seq_len", "128", "--pair", "nsp",
                 "--nsp_bucket_docs", "100")  # fmt: skip
    return out, stats, _rows(out)


def test_nsp_examples_well_formed(nsp, tok_dir):
    from transforms.vocab.tokenizer_dir import load_tokenizer, special_token_ids

    out, stats, rows = nsp
    ids = special_token_ids(load_tokenizer(tok_dir))
    manifest = read_manifest(str(out))
    assert manifest["special_token_ids"] == ids and manifest["pair_task"] == "nsp"
    assert manifest["num_rows"] == len(rows) == stats["counters"]["examples_written"] > 3000
    for r in rows:
        x = r["input_ids"]
        assert r["num_tokens"] == len(x) == len(r["word_start"]) <= 128
        assert x[0] == ids["[CLS]"] and x.count(ids["[CLS]"]) == 1
        assert x.count(ids["[SEP]"]) == 2 and x[-1] == ids["[SEP]"]
        assert x[r["segment_b_start"] - 1] == ids["[SEP]"] and 2 < r["segment_b_start"] < len(x)
        assert r["word_start"][0] == 1 and r["static_mask_positions"] is None
        assert r["pair_label"] in (PAIR_IS_NEXT, PAIR_RANDOM_NEXT)
        assert (r["b_doc_id"] is not None) == (r["pair_label"] == PAIR_RANDOM_NEXT)
        assert r["b_doc_id"] != r["doc_id"]
        edges = manifest["length_bin_edges"]
        assert (
            (edges[r["length_bin"] - 1] if r["length_bin"] else 0)
            < len(x)
            <= edges[r["length_bin"]]
        )


def test_nsp_label_balance_and_buckets(nsp, corpus):
    from schemas.document import DOCUMENT_SCHEMA

    _, stats, rows = nsp
    n = len(rows)
    randoms = sum(r["pair_label"] == PAIR_RANDOM_NEXT for r in rows)
    assert abs(randoms - n / 2) <= 3 * math.sqrt(n / 4)
    assert stats["counters"]["nsp_random"] == randoms
    assert stats["num_nsp_buckets"] == math.ceil(stats["num_input_docs"] / 100) > 1
    packed = {r["doc_id"] for r in rows}
    for name in ("wiki_en", "wiki_multi", "books", "sample"):  # every input set contributes
        _, tables = open_shard_set(corpus[name], schema=DOCUMENT_SCHEMA)
        assert packed & {d for t in tables for d in t.column("doc_id").to_pylist()}, name


def test_nsp_stats_ledger_and_manifest(nsp):
    out, stats, rows = nsp
    on_disk = json.loads((out / "stats.json").read_text())
    assert on_disk["ledger"]["balanced"] and on_disk["ledger"]["unaccounted"] == 0
    c = on_disk["counters"]
    assert c["input"] == stats["num_input_docs"]
    assert c["input"] == c["emitted"] + c.get("dropped_empty", 0) + c.get(
        "dropped_too_short", 0
    ) + c.get("failed", 0)
    assert c["tokens_written"] == sum(r["num_tokens"] for r in rows)
    assert sum(on_disk["length_histogram"].values()) == len(rows)
    manifest = read_manifest(str(out))  # validates against MANIFEST_SCHEMA
    assert manifest["counters"] == c and manifest["num_tokens"] == c["tokens_written"]
    assert json.loads(manifest["config"])["pair_task"] == "nsp"
    for entry in manifest["shards"]:
        assert re.fullmatch(r"bin\d\d-\d{5}\.arrow", entry["path"])
        assert int(entry["path"][3:5]) == entry["length_bin"]
    assert os.listdir(out / "rejected")
    assert 0 <= on_disk["padding_waste"]["binned"] <= on_disk["padding_waste"]["naive"]


def test_shard_set_loads_with_datasets(nsp):
    import datasets

    out, _, rows = nsp
    ds = datasets.load_dataset("arrow", data_files=shard_paths(str(out)), split="train")
    assert ds.num_rows == len(rows)
    assert set(ds.column_names) == set(EXAMPLE_SCHEMA.names)


# --- SOP: swapped pairs are true swaps ----------------------------------------------------------


def _find(hay: bytes, needle: np.ndarray) -> int | None:
    """Token offset of the only occurrence of ``needle`` in ``hay`` (int32 bytes), else None."""
    pat = needle.astype(np.int32).tobytes()
    hits, start = [], 0
    while len(hits) < 2 and (i := hay.find(pat, start)) >= 0:
        if i % 4 == 0:
            hits.append(i // 4)
        start = i + 1
    return hits[0] if len(hits) == 1 else None


def test_sop_swaps_reconstructed_from_documents(corpus, tok_dir, tmp_path):
    from transforms.shared.shardio import read_shard_rows
    from transforms.vocab.tokenizer_dir import load_tokenizer

    out = tmp_path / "sop"
    stats = _run(out, [corpus["books"], corpus["sample"]], tok_dir, "--pair", "sop")
    assert stats["ledger"]["balanced"]
    tok = load_tokenizer(tok_dir)
    docs = {}
    for d in (corpus["books"], corpus["sample"]):
        for entry in read_manifest(d)["shards"]:
            from schemas.document import DOCUMENT_SCHEMA

            rows = read_shard_rows(d, entry, DOCUMENT_SCHEMA)
            for t in tokenize_docs(rows, tok, continuation_table(tok), CounterDict()):
                docs[t.doc_id] = t.ids.tobytes()
    rows = _rows(out)
    n = len(rows)
    swapped = sum(r["pair_label"] == SOP_SWAPPED for r in rows)
    assert abs(swapped - n / 2) <= 3 * math.sqrt(n / 4)
    checked = 0
    for r in rows:
        assert r["pair_label"] in (SOP_IN_ORDER, SOP_SWAPPED) and r["b_doc_id"] is None
        x = np.array(r["input_ids"])
        b0 = r["segment_b_start"]
        a, b = x[1 : b0 - 1], x[b0:-1]
        if len(a) < 12 or len(b) < 12:
            continue  # short segments may repeat inside a document
        pa_, pb = _find(docs[r["doc_id"]], a), _find(docs[r["doc_id"]], b)
        if pa_ is None or pb is None:
            continue
        checked += 1
        if r["pair_label"] == SOP_SWAPPED:
            assert pb + len(b) <= pa_
        else:
            assert pa_ + len(a) <= pb
    assert checked > 0.8 * n


# --- determinism: 1 vs 2 workers; static masks and dupes --------------------------------------


def test_byte_identical_with_two_workers(corpus, tok_dir, tmp_path):
    inputs = [corpus["books"], corpus["sample"], corpus["edge"]]
    flags = ["--pair", "nsp", "--nsp_bucket_docs", "40", "--static_masks", "--dupe_factor", "2",
             "--whole_word_mask", "--shards_per_bin", "2"]  # fmt: skip
    one = _run(tmp_path / "one", inputs, tok_dir, *flags)
    two = _run(tmp_path / "two", inputs, tok_dir, *flags, *MULTI)
    m1, m2 = read_manifest(str(tmp_path / "one")), read_manifest(str(tmp_path / "two"))
    assert [s["sha256"] for s in m1["shards"]] == [s["sha256"] for s in m2["shards"]]
    assert one["counters"] == two["counters"] and two["ledger"]["balanced"]
    assert m1["static_masks"] is True
    rows = _rows(tmp_path / "one")
    by_key: dict = {}
    for r in rows:
        pos = r["static_mask_positions"]
        assert pos and len(pos) == len(r["static_mask_ids"]) <= 20
        by_key.setdefault(r["doc_id"], []).append(tuple(r["input_ids"]))
    # two dupes per document: different instance sets
    assert sum(len(set(v)) > len(v) / 2 for v in by_key.values()) > 0.9 * len(by_key)
    c = one["counters"]
    assert c["dropped_empty"] >= 1 and c["dropped_too_short"] >= 1  # the edge fixture


# --- protein and single-segment packing --------------------------------------------------------


def test_protein_single_sequences(corpus, residue_tok_dir, tmp_path):
    out = tmp_path / "protein"
    stats = _run(
        out, [corpus["protein"]], residue_tok_dir, "--pair", "none", "--max_seq_len", "256"
    )
    assert stats["ledger"]["balanced"]
    rows = _rows(out)
    c = stats["counters"]
    assert len(rows) == c["emitted"] == c["input"] - c.get("dropped_empty", 0)
    assert c["protein_cropped"] > 0
    for r in rows:
        assert r["pair_label"] == NO_PAIR and r["segment_b_start"] == r["num_tokens"] <= 256
        assert r["input_ids"].count(3) == 1 and set(r["word_start"]) == {1}
    assert sum(r["num_tokens"] == 256 for r in rows) >= c["protein_cropped"]


def test_none_packing_on_books(corpus, tok_dir, tmp_path):
    out = tmp_path / "none"
    stats = _run(out, [corpus["books"]], tok_dir, "--pair", "none", "--short_seq_prob", "0")
    rows = _rows(out)
    assert stats["ledger"]["balanced"] and len(rows) == stats["counters"]["single_segment"]
    assert all(r["pair_label"] == NO_PAIR and r["num_tokens"] <= 128 for r in rows)
    assert stats["counters"]["tokens_written"] == stats["counters"]["tokens"] + 2 * len(rows)


# --- 512 tokens: length binning keeps padding small ---------------------------------------------


def test_padding_waste_at_512_on_wikipedia(corpus, tok_dir, tmp_path):
    out = tmp_path / "w512"
    stats = _run(out, [corpus["wiki_en"], corpus["wiki_multi"]], tok_dir, "--max_seq_len", "512")
    waste = stats["padding_waste"]
    assert read_manifest(str(out))["length_bin_edges"] == [64, 128, 192, 256, 320, 384, 448, 512]
    assert waste["binned"] <= 0.05
    assert waste["binned"] < waste["mixed"]
