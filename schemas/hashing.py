"""Stable, seeded hashing: the only source of randomness in bertcorpus.

Python's ``hash()`` is salted per process and ``random`` carries global state, so neither
survives a runner retrying or rebalancing a bundle. Everything random derives from these.
"""

from __future__ import annotations

import hashlib
import random

_MASK64 = (1 << 64) - 1
# 2^64 / golden ratio: splitmix64's stream increment, and an odd multiplier that spreads
# polynomial (rolling n-gram) hashes.
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_MIX1, _MIX2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def stable_hash(*parts: object) -> int:
    """64-bit unsigned hash of ``parts`` (str/bytes/int/float/None), identical in every process."""
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        if isinstance(part, bytes):
            data = b"b" + part
        else:
            data = type(part).__name__[:1].encode() + str(part).encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(4, "little"))
        h.update(data)
    return int.from_bytes(h.digest(), "little") & _MASK64


def seeded_rng(*parts: object) -> random.Random:
    """A ``random.Random`` seeded by ``stable_hash(*parts)``: e.g. ``seeded_rng(seed, doc_id)``."""
    return random.Random(stable_hash(*parts))


def bucket_of(key: object, num_buckets: int, *, seed: object = 0) -> int:
    """Stable bucket in ``[0, num_buckets)`` for ``key``."""
    if num_buckets <= 0:
        raise ValueError(f"num_buckets must be positive, got {num_buckets}")
    return stable_hash(seed, key) % num_buckets


def sha256_file(path: str, *, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def splitmix64(z):
    """The splitmix64 finaliser on a numpy uint64 array (wrapping arithmetic; a new array).

    The constants are Python ints, which numpy casts to uint64, so this module needs no numpy
    import of its own. Callers: dynamic masking (trainer) and MinHash shingles (dedup).
    """
    z = z ^ (z >> 30)
    z *= _MIX1
    z ^= z >> 27
    z *= _MIX2
    z ^= z >> 31
    return z
