"""PretrainingData: example shard sets -> padded, dynamically masked batches for the trainer.

    data = PretrainingData(["out/en/shards"], LoaderConfig(batch_size=32), num_workers=2)
    data.load_state_dict(checkpoint["data"])  # when resuming: (epoch, batches consumed)
    while True:
        for batch in data:  # dict of int64 tensors, see PretrainingData
            ...
            checkpoint["data"] = data.state_dict()
        data.set_epoch(data.epoch + 1)

Position semantics (like DistributedSampler plus a cursor): ``set_epoch(e)`` starts epoch e
from its first batch; iterating yields the current epoch from ``batches_consumed`` on (so a
loop that stopped mid-epoch, or a loaded state, continues where it was), and an epoch that
was fully consumed is replayed from its start. Do not call set_epoch after load_state_dict
for the same epoch: it would restart that epoch.

Every shard is verified (manifest, sha256, schema version) in the constructor, so a corrupted
file stops the run before training with a ShardError naming it. Batch composition and order
come from ``trainer.sampling`` (a pure function of seed and epoch) and masks from
``trainer.masking`` (a pure function of seed, epoch and example index), so the batches are
identical for 0, 1 or N DataLoader workers and a resumed run continues with exactly the
batches it would have seen.

Memory: token data is never copied into one flat array. Each record batch of each shard is
kept as numpy views of its Arrow buffers (``trainer.columns``); for shards written without
compression (``pipeline.shards --compression none``) those views point into the memory-mapped
files, so tokens are paged in by the OS on demand and shared by all processes of the node.
zstd/lz4 shards are decompressed into this process's RAM when opened. Only 8 bytes per
example (segment_b_start, pair_label, length_bin, has_static) are materialised.

Workers: iterate the dataset itself; with ``num_workers > 0`` it runs a torch DataLoader
(batch_size=None, in order) over itself, worker w collating batches w, w + W, ... of the
remaining plan, which the DataLoader returns round-robin, i.e. in plan order. Wrapping it in
your own DataLoader works too (workers are detected), but then only you know how many
batches were consumed: pass that count to ``load_state_dict`` to resume.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from schemas.example import EXAMPLE_SCHEMA
from schemas.hashing import stable_hash
from schemas.shards import open_shard_set
from schemas.special_tokens import PAD
from trainer.batching import Collator
from trainer.columns import columns_from_tables, concat_columns
from trainer.masking import Masker, MaskingConfig
from trainer.sampling import EpochPlanner, PlannedBatch, SetSampler

# Manifest fields that must agree between the shard sets of a mixture.
_SHARED_FIELDS = ("special_token_ids", "vocab_size", "pair_task", "tokenizer_hash")


@dataclass(frozen=True)
class LoaderConfig:
    batch_size: int = 32
    seed: int = 0
    shuffle: bool = True
    drop_last: bool = False
    pad_multiple: int = 8
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    mixture_weights: tuple[float, ...] | None = None  # per shard set, or
    mixture_alpha: float | None = None  # temperature smoothing of sizes: p_i ∝ n_i ** alpha

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.pad_multiple < 1:
            raise ValueError("batch_size and pad_multiple must be positive")
        if self.mixture_weights is not None and self.mixture_alpha is not None:
            raise ValueError("give mixture_weights or mixture_alpha, not both")


class PretrainingData(IterableDataset):
    """Batches for one rank: dicts of int64 tensors input_ids, token_type_ids,
    attention_mask, labels [B, L] (L = longest row rounded up to pad_multiple; labels -100
    where not predicted) and pair_label [B] (-100 when the example has no pair)."""

    def __init__(
        self,
        shard_dirs: str | os.PathLike | Sequence[str | os.PathLike],
        cfg: LoaderConfig,
        *,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int = 0,
        verify: bool = True,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(shard_dirs, str | os.PathLike):
            shard_dirs = [shard_dirs]
        if not shard_dirs:
            raise ValueError("no shard sets given")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.cfg, self.rank, self.world_size = cfg, rank, world_size
        self.num_workers, self.pin_memory = num_workers, pin_memory
        self.shard_dirs = [os.fspath(d) for d in shard_dirs]
        manifests, columns = [], []
        for directory in self.shard_dirs:  # every shard of every set verified before training
            manifest, tables = open_shard_set(directory, schema=EXAMPLE_SCHEMA, verify=verify)
            manifests.append(manifest)
            # Views of the tables' buffers (they keep the memory maps alive), not copies.
            columns.append(columns_from_tables(tables, where=directory))
            del tables
        self.manifests = manifests
        self._check_compatible()
        first = manifests[0]
        self.special_token_ids: dict[str, int] = dict(first["special_token_ids"])
        self.vocab_size: int = int(first["vocab_size"])
        self.pair_task: str = first["pair_task"]
        self.max_seq_len: int = max(int(m["max_seq_len"]) for m in manifests)
        if cfg.masking.use_static_masks and not any(m.get("static_masks") for m in manifests):
            raise ValueError("use_static_masks is set but no shard set carries static masks")
        self.set_sizes = [c.num_examples for c in columns]
        self.columns = concat_columns(columns)
        self.num_examples = self.columns.num_examples
        masker = Masker(
            cfg.masking, special_token_ids=self.special_token_ids, vocab_size=self.vocab_size
        )
        self.collate = Collator(
            self.columns,
            masker,
            pad_id=self.special_token_ids[PAD],
            pad_multiple=cfg.pad_multiple,
            use_static_masks=cfg.masking.use_static_masks,
        )
        self.planner = self._make_planner()
        self.epoch = 0
        self.batches_consumed = 0

    def _check_compatible(self) -> None:
        first = self.manifests[0]
        for name in ("special_token_ids", "vocab_size", "pair_task", "max_seq_len"):
            if first.get(name) is None:
                raise ValueError(f"{self.shard_dirs[0]}: manifest lacks {name}; not examples?")
        for directory, manifest in zip(self.shard_dirs[1:], self.manifests[1:], strict=True):
            for name in _SHARED_FIELDS:
                if manifest.get(name) != first.get(name):
                    raise ValueError(
                        f"{directory}: {name} differs from {self.shard_dirs[0]}; "
                        "shard sets of one mixture must share a tokenizer and pair task"
                    )

    def _make_planner(self) -> EpochPlanner:
        cfg, offset, sets = self.cfg, 0, []
        for i, size in enumerate(self.set_sizes):
            bins = self.columns.length_bin[offset : offset + size]
            sets.append(
                SetSampler(
                    bins,
                    offset=offset,
                    set_index=i,
                    batch_size=cfg.batch_size,
                    seed=cfg.seed,
                    shuffle=cfg.shuffle,
                    drop_last=cfg.drop_last,
                )
            )
            offset += size
        return EpochPlanner(
            sets,
            seed=cfg.seed,
            shuffle=cfg.shuffle,
            drop_last=cfg.drop_last,
            world_size=self.world_size,
            weights=cfg.mixture_weights,
            alpha=cfg.mixture_alpha,
        )

    # -- epoch plan ---------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Start ``epoch`` from its first batch (the same plan and masks every time)."""
        self.epoch, self.batches_consumed = int(epoch), 0

    def plan(self, epoch: int | None = None) -> list[PlannedBatch]:
        """This rank's batches of ``epoch`` (default: the current one), in order."""
        return self.planner.rank_batches(self.epoch if epoch is None else epoch, self.rank)

    def __len__(self) -> int:
        return len(self.plan())

    def batch(self, planned: PlannedBatch) -> dict[str, torch.Tensor]:
        """Collate one planned batch (masks seeded by (seed, cycle, example index))."""
        arrays = self.collate(planned.indices, stable_hash(self.cfg.seed, planned.cycle))
        return {k: torch.from_numpy(v) for k, v in arrays.items()}

    # -- iteration ----------------------------------------------------------------------------
    def _start(self) -> int:
        """Continue an unfinished epoch; replay a finished one from its start."""
        return self.batches_consumed if self.batches_consumed < len(self) else 0

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        if info is not None:  # inside a DataLoader worker: our share, in plan order
            remaining = self.plan()[self._start() :]
            for planned in remaining[info.id :: info.num_workers]:
                yield self.batch(planned)
            return
        self.batches_consumed = self._start()
        if self.num_workers > 0:  # workers fork now, with the current position
            source: Iterator = iter(
                DataLoader(
                    self,
                    batch_size=None,
                    num_workers=self.num_workers,
                    pin_memory=self.pin_memory and torch.cuda.is_available(),
                )  # in order (the default): batches come back round-robin from the workers
            )
        else:
            source = (self._pinned(self.batch(p)) for p in self.plan()[self.batches_consumed :])
        for batch in source:
            self.batches_consumed += 1  # counted on delivery: prefetched batches do not count
            yield batch

    def _pinned(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.pin_memory and torch.cuda.is_available():
            return {k: v.pin_memory() for k, v in batch.items()}
        return batch

    # -- resume -------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "batches_consumed": self.batches_consumed,
            "seed": self.cfg.seed,
            "world_size": self.world_size,
            "rank": self.rank,
            "num_examples": self.num_examples,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue at (epoch, batches_consumed); worker count may differ, the plan may not."""
        for name, mine in (
            ("seed", self.cfg.seed),
            ("world_size", self.world_size),
            ("num_examples", self.num_examples),
        ):
            if name in state and state[name] != mine:
                raise ValueError(f"data state has {name}={state[name]}, this loader {mine}")
        self.epoch = int(state["epoch"])
        self.batches_consumed = int(state["batches_consumed"])
