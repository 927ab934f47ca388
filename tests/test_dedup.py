"""Exact and MinHash near-duplicate removal: pure functions and the Beam transform."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from schemas.hashing import seeded_rng
from tests.conftest import REPO_ROOT
from transforms.clean.dedup import (
    DedupConfig,
    Deduplicate,
    band_keys,
    dedup_words,
    exact_key,
    exact_losers,
    minhash_signature,
    near_losers,
    resolve,
    shingle_hashes,
)
from transforms.clean.minhash import dedup_text
from transforms.read.config import ReaderConfig
from transforms.read.rawdoc import RawDoc
from transforms.read.sources import read_file
from transforms.shared.accounting import CounterDict, counters_from_result

BASE = (
    "The committee met on Tuesday to discuss the budget for the coming year and agreed to "
    "spend more on schools, roads and the public library, while cutting the cost of "
    "administration by a tenth over the next three years, as the mayor had promised."
)
OTHER = (
    "Penguins live almost exclusively in the southern hemisphere; only one species is found "
    "north of the equator, near the Galapagos islands, where cold currents keep the sea cool."
)


def _doc(doc_id: str, text: str, source: str = "text") -> RawDoc:
    return RawDoc(doc_id=doc_id, source=source, paragraphs=(text,))


def _similarity(a: RawDoc, b: RawDoc) -> float:
    cfg = DedupConfig()
    sa = minhash_signature(shingle_hashes(a, cfg), cfg)
    sb = minhash_signature(shingle_hashes(b, cfg), cfg)
    return float((sa == sb).mean())


def test_dedup_words_keeps_combining_marks():
    assert dedup_words(_doc("a", "Hello, World!  It's\tme — 42%")) == [
        "hello",
        "world",
        "it",
        "s",
        "me",
        "42",
    ]
    assert dedup_words(_doc("a", "हिन्दी भाषा!")) == ["हिन्दी", "भाषा"]


def test_exact_key_ignores_case_space_and_punctuation():
    assert exact_key(_doc("a", "Hello, World!")) == exact_key(_doc("b", "hello world"))
    assert exact_key(_doc("a", "हिन्दी")) != exact_key(_doc("b", "हिनदी"))
    assert len(exact_key(_doc("a", "x"))) == 16


def test_minhash_estimates_jaccard():
    cfg = DedupConfig()
    base = _doc("a", BASE)
    assert _similarity(base, _doc("b", BASE.upper())) == 1.0
    one_word = _doc("c", BASE.replace("Tuesday", "Monday"))
    # 27 word 5-grams, 5 of them changed: Jaccard = 22/32 = 0.69 (MinHash within ~0.15).
    assert 0.5 < _similarity(base, one_word) < 0.9
    assert _similarity(base, _doc("d", OTHER)) < 0.1
    sig = minhash_signature(shingle_hashes(base, cfg), cfg)
    assert sig.dtype == np.uint32 and sig.shape == (128,)
    assert np.array_equal(sig, minhash_signature(shingle_hashes(base, cfg), cfg))
    other_seed = DedupConfig(seed=1)
    assert not np.array_equal(sig, minhash_signature(shingle_hashes(base, other_seed), other_seed))


def test_shingles_for_protein_and_unspaced_scripts():
    cfg = DedupConfig()
    seq = "MSIQHFRVALIPFFAAFCLPVFAHPETLVKVKDAEDQLGARVGYIELDLNSGKILESFRPEERFPMMSTFKVLLCGAVLSRVDAGQEQLGRRIHYSQNDLVEYSPVTEKHLTDGMTVRELCSAAITMSDNTAANLLLTTIGGPKELTAFLHNMGDHVTRLDRWEPELNEAIPNDERDTTMPAAMATTLRKLLTGELLTLASRQQLIDWMEADKVAGPLLRSALPAGWFIADKSGAGERGSRGIIAALGPDGKPSRIVVIYTTGSQATMDERNRQIAEIGASLIKHW"
    assert len(shingle_hashes(_doc("p", seq, "protein"), cfg)) == len(seq) - 4
    mutant = seq[:100] + "A" + seq[101:]
    assert _similarity(_doc("p", seq, "protein"), _doc("q", mutant, "protein")) > 0.9
    ja = "今日は良い天気です。明日も晴れるでしょう。"
    assert len(shingle_hashes(_doc("j", ja), cfg)) == len(ja) - 2 - 4  # 2 stops removed
    assert len(shingle_hashes(_doc("s", "one two"), cfg)) == 1  # shorter than a shingle
    assert len(shingle_hashes(_doc("e", "!!!"), cfg)) == 0


def test_band_keys():
    cfg = DedupConfig(num_perm=8, bands=4)
    sig = np.arange(8, dtype=np.uint32)
    keys = band_keys(sig, cfg)
    assert keys == [
        bytes([i]) + np.array([2 * i, 2 * i + 1], np.uint32).tobytes() for i in range(4)
    ]
    with pytest.raises(ValueError):
        DedupConfig(num_perm=128, bands=10)


def test_exact_and_near_losers():
    assert exact_losers(["b", "a", "c", "a"]) == ["b", "c"]
    ones = np.ones(4, np.uint32).tobytes()
    close = np.array([1, 1, 1, 2], np.uint32).tobytes()  # 0.75 similar to ones
    far = np.array([3, 3, 3, 3], np.uint32).tobytes()
    members = [("c", close), ("a", ones), ("b", far), ("d", ones)]
    assert near_losers(members, 0.7) == ["c", "d"]
    assert near_losers(members, 0.8) == ["d"]
    assert near_losers([("a", ones)], 0.8) == []


def test_resolve_counts():
    count = CounterDict()
    doc = _doc("a", "x")
    assert resolve("a", [doc], [], count) == doc
    assert resolve("a", [doc], ["near", "exact"], count) is None
    assert resolve("a", [doc], ["near"], count) is None
    assert resolve("a", [doc, _doc("a", "y")], [], count) == doc
    assert count == {"dropped_duplicate": 2, "dropped_near_duplicate": 1}


def _unique_text(i: int) -> str:
    words = (BASE + " " + OTHER).replace(",", "").replace(".", "").split()
    seeded_rng(i, "dedup-test").shuffle(words)
    return " ".join(words)


def _corpus() -> list[RawDoc]:
    docs = [_doc(f"u{i:02d}", _unique_text(i)) for i in range(6)]
    docs += [
        _doc("a1", BASE),
        _doc("a0", BASE.lower().replace(",", "")),  # exact duplicate of a1, smaller id
        _doc("a2", BASE + " Minor addition."),  # near duplicate of a0/a1 (Jaccard 0.95)
        _doc("b0", OTHER),
    ]
    return docs


def _run(flags: list[str], cfg: DedupConfig):
    with beam.Pipeline(options=PipelineOptions(flags)) as p:
        kept = p | beam.Create(_corpus()) | Deduplicate(cfg) | beam.Map(lambda d: d.doc_id)
        assert_that(kept, equal_to(_expected(cfg)))
    return counters_from_result(p.result)


def _expected(cfg: DedupConfig) -> list[str]:
    unique = ["a0", "b0"] + [f"u{i:02d}" for i in range(6)]
    if cfg.exact and cfg.near:
        return unique
    if cfg.exact:
        return unique + ["a2"]
    return unique + ["a1", "a2"]


@pytest.mark.parametrize(
    ("flags", "cfg", "counters"),
    [
        ([], DedupConfig(), {"dropped_duplicate": 1, "dropped_near_duplicate": 1}),
        ([], DedupConfig(near=False), {"dropped_duplicate": 1}),
        ([], DedupConfig(exact=False, near=False), {}),
        (
            ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
            DedupConfig(),
            {"dropped_duplicate": 1, "dropped_near_duplicate": 1},
        ),
    ],
)
def test_deduplicate_in_beam(flags, cfg, counters):
    assert _run(flags, cfg) == counters


# -- dedup text, shingles and one-permutation MinHash against plain-Python oracles ---------

_ORACLE_SEPARATORS = {"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Cc", "Cf"}


def _oracle_words(text: str) -> list[str]:
    """What dedup words mean, the slow way: separators (planes 0-1) -> space, then split."""
    table = {c: " " for c in range(0x20000) if unicodedata.category(chr(c)) in _ORACLE_SEPARATORS}
    return text.lower().translate(table).split()


def _word_shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = _oracle_words(text)
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def _estimate(a: str, b: str) -> float:
    return _similarity(_doc("a", a), _doc("b", b))


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def _edit(text: str, share: float, seed: int) -> str:
    """Replace ``share`` of the words (and drop one, insert one) at seeded places."""
    words = text.split()
    rng = seeded_rng(seed, "edit")
    for i in rng.sample(range(len(words)), round(share * len(words))):
        words[i] = rng.choice(words) + "x"
    del words[rng.randrange(len(words))]
    words.insert(rng.randrange(len(words)), "inserted")
    return " ".join(words)


def _book_words(shared_data: Path, name: str) -> list[str]:
    return (shared_data / "books" / name).read_text(encoding="utf-8").split()


def _first_docs(path: Path, n: int) -> list[RawDoc]:
    items = read_file("wiki", str(path), ReaderConfig(), CounterDict())
    docs = list(itertools.islice((d for d in items if isinstance(d, RawDoc)), n))
    items.close()
    return docs


def test_dedup_words_match_the_oracle_on_many_scripts(shared_data):
    tsv = shared_data / "multilingual" / "tatoeba_nonascii_CC0_sample.tsv"
    sentences = [line.split("\t")[-1] for line in tsv.read_text(encoding="utf-8").splitlines()]
    odd = "nbsp\u00a0x line\u2028sep \x1cfs \U00020000\U0002a6d6 tag\U000e0001 😀smile x\ud800y"
    text = "\n".join([*sentences, odd])
    assert dedup_words(_doc("t", text)) == _oracle_words(text)
    assert dedup_text([odd]).words()[-2:] == ["smile", "x\ud800y"]


def test_estimated_jaccard_on_real_passages(shared_data):
    errors = []
    books = ["11-0.txt", "1952-0.txt", "35-0.txt", "41-0.txt", "43-0.txt", "46-0.txt"]
    for i, name in enumerate(books):
        words = _book_words(shared_data, name)
        passage = " ".join(words[3000 : 3000 + 250])
        edited = _edit(passage, 0.01 + 0.02 * i, seed=i)
        true = _jaccard(_word_shingles(passage), _word_shingles(edited))
        assert 0.3 < true < 0.95  # near duplicates, not copies
        errors.append(_estimate(passage, edited) - true)
    assert max(abs(e) for e in errors) <= 0.1, errors
    assert abs(sum(errors) / len(errors)) < 0.05, errors  # no bias


def test_shingles_are_the_distinct_word_ngrams(shared_data):
    text = " ".join(_book_words(shared_data, "11-0.txt")[:5000])
    assert len(shingle_hashes(_doc("a", text), DedupConfig())) == len(_word_shingles(text))


def test_cjk_document_shingles_by_character(shared_data):
    wiki = shared_data / "wiki" / "jawiki-20230501-pages-articles-first238pages.xml.bz2"
    (doc,) = [d for d in _first_docs(wiki, 2) if sum(map(len, d.paragraphs)) > 5000]
    text = "\n".join(doc.paragraphs)
    chars = "".join(_oracle_words(text))
    grams = {chars[i : i + 5] for i in range(len(chars) - 4)}
    assert len(shingle_hashes(doc, DedupConfig())) == len(grams)
    # Every 40th character changed: about 1 in 8 shingles, Jaccard ~0.78.
    edited = "".join("字" if i % 40 == 7 else c for i, c in enumerate(chars))
    edited_grams = {edited[i : i + 5] for i in range(len(edited) - 4)}
    true = _jaccard(grams, edited_grams)
    assert abs(_estimate(chars, edited) - true) <= 0.1
    assert _estimate(chars, "".join(reversed(chars))) < 0.1


def test_empty_and_one_word_documents():
    cfg = DedupConfig()
    for text in ["", "  !!! — ... ", "\n\n"]:
        hashes = shingle_hashes(_doc("e", text), cfg)
        assert len(hashes) == 0
        assert (minhash_signature(hashes, cfg) == np.iinfo(np.uint32).max).all()
    one = minhash_signature(shingle_hashes(_doc("w", "Lighthouse."), cfg), cfg)
    assert len(set(one.tolist())) == 1  # every empty bin copied the one filled bin
    assert _estimate("Lighthouse.", "LIGHTHOUSE!") == 1.0
    assert _estimate("Lighthouse.", "Lamppost.") == 0.0


def test_short_document_signature_holds_only_its_own_minima():
    cfg = DedupConfig()
    hashes = shingle_hashes(_doc("s", "one two three four five six seven eight nine ten"), cfg)
    assert len(hashes) == 6
    sig = minhash_signature(hashes, cfg)
    assert set(sig.tolist()) <= {h & 0xFFFFFFFF for h in hashes.tolist()}
    assert len(set(sig.tolist())) > 1  # empty bins borrow from different filled bins


def test_very_long_document_and_long_words(shared_data):
    words = [
        w for name in ("11-0.txt", "35-0.txt", "43-0.txt") for w in _book_words(shared_data, name)
    ]
    text = " ".join(words)  # ~120k words
    extra = " ".join(_book_words(shared_data, "46-0.txt")[:12000])
    true = _jaccard(_word_shingles(text), _word_shingles(text + " " + extra))
    assert abs(_estimate(text, text + " " + extra) - true) <= 0.1
    # Words longer than any power table so far, differing only in their last letter.
    long_a, long_b = "a" * 5000 + "b", "a" * 5000 + "c"
    assert _estimate(long_a, long_a.upper()) == 1.0
    assert _estimate(long_a, long_b) == 0.0


def test_signatures_do_not_depend_on_the_process():
    code = (
        "from transforms.clean.dedup import DedupConfig, minhash_signature, shingle_hashes\n"
        "from transforms.read.rawdoc import RawDoc\n"
        "cfg = DedupConfig(seed=7)\n"
        f"doc = RawDoc(doc_id='a', source='text', paragraphs=({BASE!r},))\n"
        "print(minhash_signature(shingle_hashes(doc, cfg), cfg).tobytes().hex())\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for hash_seed in (1, 2)
    }
    cfg = DedupConfig(seed=7)
    here = minhash_signature(shingle_hashes(_doc("a", BASE), cfg), cfg).tobytes().hex()
    assert outputs == {here}
