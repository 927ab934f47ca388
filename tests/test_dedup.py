"""Exact and MinHash near-duplicate removal: pure functions and the Beam transform."""

from __future__ import annotations

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from schemas.hashing import seeded_rng
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
from transforms.read.rawdoc import RawDoc
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
