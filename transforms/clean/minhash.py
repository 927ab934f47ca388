"""MinHash signatures of documents for near-duplicate detection, vectorised with numpy.

- Dedup text: the lower-cased text less punctuation, symbols, controls and whitespace (the
  separators), as code points, with the index where each word (run between separators)
  starts. Exact duplicates share it; it is the input of the shingles.
- Shingles: ``shingle`` consecutive words; ``shingle`` characters for protein residues and
  for text mostly in scripts written without spaces. Each is one seeded 64-bit hash.
- Signature: one-permutation hashing (Li, Owen & Zhang 2012): a hash's high bits pick one of
  ``num_perm`` bins, each bin keeps its smallest hash, and an empty bin copies the first
  filled bin in its own seeded probe order (optimal densification, Shrivastava 2017). As
  with ``num_perm`` independent permutations, two signatures agree at a position with
  probability ~ the Jaccard similarity of the shingle sets, but one sort replaces the
  (shingles x num_perm) products.
Everything derives from ``seed`` through ``schemas.hashing``: the same seed gives the same
signature in every process and on every machine.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from schemas.hashing import GOLDEN_GAMMA, splitmix64, stable_hash
from transforms.clean.ngrams import ngram_hash
from transforms.shared.alphabets import UNSPACED

UNSPACED_SHARE = 0.3  # above this share of unspaced-script letters, shingle by character

_SEPARATOR_CATEGORIES = frozenset(
    ["Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Cc", "Cf"]
)
_LETTER, _SEPARATOR, _UNSPACED = 0, 1, 2  # code point classes
# Separators are looked up in planes 0-1, where the categories above live (the Cf tag
# characters of plane 14 stay letters); unspaced scripts reach into plane 3. Every code
# point past the table maps to its last entry, a letter.
_SEPARATOR_END, _TABLE_END = 0x20000, 0x31350
_WORD_BASE = np.uint64(GOLDEN_GAMMA)  # odd: a word's polynomial hash base


def code_points(text: str) -> np.ndarray:
    """uint32 code points of ``text`` (lone surrogates included, as the reader may pass them)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


@functools.cache
def _classes() -> np.ndarray:
    """uint8 class of each code point below _TABLE_END (and a letter entry for the rest);
    built once per process (~50 ms)."""
    table = np.full(_TABLE_END + 1, _LETTER, dtype=np.uint8)
    everything = "".join(map(chr, range(_TABLE_END)))
    table[code_points("".join(UNSPACED.findall(everything)))] = _UNSPACED
    # str.split's whitespace too; a separator is never an unspaced letter (e.g. Thai and
    # Japanese punctuation inside those scripts' blocks).
    separators = [
        c
        for c in range(_SEPARATOR_END)
        if unicodedata.category(chr(c)) in _SEPARATOR_CATEGORIES or chr(c).isspace()
    ]
    table[separators] = _SEPARATOR
    return table


@dataclass(frozen=True)
class DedupText:
    chars: np.ndarray  # uint32 code points of the words, concatenated
    starts: np.ndarray  # intp index in ``chars`` where each word starts
    unspaced: int  # how many of ``chars`` are letters of scripts written without spaces

    def text(self) -> str:
        return self.chars.tobytes().decode("utf-32-le", "surrogatepass")

    def words(self) -> list[str]:
        text, bounds = self.text(), self.starts.tolist()
        return [text[start:end] for start, end in zip(bounds, [*bounds[1:], None], strict=True)]


def dedup_text(paragraphs: Sequence[str]) -> DedupText:
    """The lower-cased words of ``paragraphs``, punctuation, symbols and whitespace removed."""
    points = code_points("\n".join(paragraphs).lower())
    classes = _classes()[np.minimum(points, _TABLE_END)]
    kept = classes != _SEPARATOR
    # +1 where a run of kept code points starts, -1 just past where it ends.
    edges = np.diff(kept.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    bounds = np.flatnonzero(edges)
    lengths = bounds[1::2] - bounds[0::2]
    starts = np.zeros(len(lengths), dtype=np.intp)
    np.cumsum(lengths[:-1], out=starts[1:])
    return DedupText(
        chars=np.compress(kept, points),
        starts=starts,
        unspaced=int(np.count_nonzero(classes == _UNSPACED)),
    )


@functools.cache
def _powers(n: int) -> np.ndarray:
    """_WORD_BASE ** i for i < n, uint64 (wrapping)."""
    powers = np.full(n, _WORD_BASE, dtype=np.uint64)
    powers[0] = 1
    return np.cumprod(powers, dtype=np.uint64)


def _word_hashes(text: DedupText) -> np.ndarray:
    """uint64 hash of each word: sum of code point * base ** (index in the word), mixed."""
    lengths = np.diff(np.append(text.starts, len(text.chars)))
    index_in_word = np.arange(len(text.chars)) - np.repeat(text.starts, lengths)
    # Powers in power-of-two sizes: few cached tables however long the longest word is.
    powers = _powers(1 << int(lengths.max() - 1).bit_length())
    sums = np.add.reduceat(text.chars * powers[index_in_word], text.starts)
    return splitmix64(sums)


def text_shingles(text: DedupText, shingle: int, seed: int) -> np.ndarray:
    """Sorted unique uint64 hashes of the shingles of ``text``: of words, or of characters
    when most letters belong to scripts written without spaces; empty without text."""
    if text.unspaced > UNSPACED_SHARE * len(text.chars):
        return _shingles(text.chars.astype(np.uint64), shingle, seed)
    if not len(text.chars):
        return np.empty(0, dtype=np.uint64)
    return _shingles(_word_hashes(text), shingle, seed)


def residue_shingles(residues: str, shingle: int, seed: int) -> np.ndarray:
    """Sorted unique uint64 hashes of the ``shingle``-residue shingles of a protein."""
    return _shingles(code_points(residues).astype(np.uint64), shingle, seed)


def _shingles(units: np.ndarray, shingle: int, seed: int) -> np.ndarray:
    if not len(units):
        return np.empty(0, dtype=np.uint64)
    # splitmix64 spreads the structured polynomial hashes over all 64 bits; the seed
    # changes every shingle's hash, so bins and minima with it.
    hashes = np.sort(splitmix64(ngram_hash(units, shingle) ^ np.uint64(_salt(seed, "shingle"))))
    # Not np.unique: numpy 2's is ~10x slower than a sort on these arrays.
    return hashes[np.concatenate(([True], hashes[1:] != hashes[:-1]))]


@functools.cache
def _salt(seed: int, purpose: str) -> int:
    return stable_hash("minhash", purpose, seed)


@functools.cache
def _probe_order(num_perm: int, seed: int) -> np.ndarray:
    """(num_perm, num_perm): row i lists every bin in a seeded random order, the order in
    which an empty bin i looks for a filled one; the same for every document."""
    cells = np.arange(num_perm * num_perm, dtype=np.uint64) ^ np.uint64(_salt(seed, "probe"))
    return np.argsort(splitmix64(cells).reshape(num_perm, num_perm), axis=1)


def signature(hashes: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """(num_perm,) uint32 one-permutation MinHash of sorted unique ``hashes`` (as
    ``text_shingles`` returns them; unsorted ones give a wrong signature): per bin the low 32 bits of its smallest hash, which
    name the shingle; all ones for no hashes."""
    if not len(hashes):
        return np.full(num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
    # The bin is monotone in the hash, so sorted hashes run bin by bin, each run's first
    # hash its minimum.
    bins = ((hashes >> np.uint64(32)) * np.uint64(num_perm)) >> np.uint64(32)
    wanted = np.arange(num_perm, dtype=np.uint64)
    first = np.minimum(np.searchsorted(bins, wanted), len(hashes) - 1)
    filled = bins[first] == wanted
    values = hashes[first].astype(np.uint32)  # the low 32 bits (astype wraps)
    if filled.all():
        return values
    order = _probe_order(num_perm, seed)
    donor = order[np.arange(num_perm), filled[order].argmax(axis=1)]
    return np.where(filled, values, values[donor])
