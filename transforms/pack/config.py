"""The pack job's configuration and its unit of work: a leaf module, so packing and the
example rows both import it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from transforms.pack.static_masks import StaticMaskConfig

if TYPE_CHECKING:
    from transforms.pack.tokenize import TokenizedDoc


@dataclass(frozen=True)
class PackConfig:
    max_seq_len: int = 128
    pair_task: Literal["nsp", "sop", "none"] = "nsp"
    short_seq_prob: float = 0.1
    dupe_factor: int = 1
    seed: int = 12345
    bin_edges: tuple[int, ...] = (32, 64, 96, 128)
    static_masks: StaticMaskConfig | None = None  # None: the loader masks dynamically
    nsp_bucket_docs: int = 1000
    num_nsp_buckets: int | None = None  # None: ceil(num_docs / nsp_bucket_docs)
    shards_per_bin: int = 4


# A segment is a token range [start, end) of one document.
Segment = tuple["TokenizedDoc", int, int]


@dataclass(frozen=True)
class Instance:
    a: Segment
    b: Segment | None  # None for single-segment examples
    pair_label: int
