"""Task heads on our encoder (``BertForPretraining.encode`` / ``pool``), as in BERT's paper:

    sequence  pooled [CLS] -> dropout -> linear        (sst2, rte)
              or (pooling "mean") the mean of the last layer over the real tokens: for an
              encoder pretrained without a pair task, whose [CLS] and pooler never learned
    token     token output -> dropout -> linear        (pos, ner)
    span      token output -> linear to (start, end)   (squad; no dropout, as google's run_squad)

Heads start as BERT initialises linears: weights ~ N(0, initializer_range), bias 0. The
sequence and token heads run the encoder's last layer only on the rows they read ([CLS], or
the labelled first sub-tokens): that layer's FFN is per position.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.masking import IGNORE_INDEX
from trainer.model import BertForPretraining, Dropout
from trainer.tasks import POOLINGS


class FinetuneModel(nn.Module):
    def __init__(
        self,
        encoder: BertForPretraining,
        kind: str,
        num_labels: int,
        dropout: float,
        pooling: str = "cls",
    ) -> None:
        super().__init__()
        if kind not in ("sequence", "token", "span"):
            raise ValueError(f"unknown head kind {kind!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; choose from {POOLINGS}")
        self.encoder, self.kind, self.pooling = encoder, kind, pooling
        hidden = encoder.cfg.hidden_size
        self.dropout = Dropout(dropout)
        self.head = nn.Linear(hidden, 2 if kind == "span" else num_labels)
        nn.init.normal_(self.head.weight, mean=0.0, std=encoder.cfg.initializer_range)
        nn.init.zeros_(self.head.bias)

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """sequence [B, labels]; token [B, L, labels] (0 where not labelled); span [B, L, 2]."""
        if self.kind == "sequence" and self.pooling == "mean":
            real = batch["attention_mask"].unsqueeze(-1).to(torch.float32)  # [B, L, 1]
            hidden = self.encoder.encode(batch).float()  # the sum in float32 (bf16 loses it)
            pooled = (hidden * real).sum(1) / real.sum(1).clamp(min=1.0)
            return self.head(self.dropout(pooled))
        if self.kind == "sequence":
            is_cls = torch.zeros_like(batch["attention_mask"], dtype=torch.bool)
            is_cls[:, 0] = True
            pooled = self.encoder.pool(self.encoder.encode(batch, is_cls))  # [B, H]
            return self.head(self.dropout(pooled))
        if self.kind == "token":
            keep = batch["labels"] != IGNORE_INDEX  # [B, L]: first sub-tokens
            rows = self.head(self.dropout(self.encoder.encode(batch, keep)))  # [N, labels]
            out = rows.new_zeros((*keep.shape, rows.shape[-1]))
            out[keep] = rows
            return out
        hidden = self.encoder.encode(batch)  # [B, L, H]
        padding = batch["attention_mask"] == 0
        return self.head(hidden).masked_fill(padding[..., None], float("-inf"))

    def loss(self, batch: dict[str, torch.Tensor], logits: torch.Tensor) -> torch.Tensor:
        labels = batch["labels"]
        if self.kind == "sequence":
            return F.cross_entropy(logits.float(), labels)
        if self.kind == "token":
            keep = labels != IGNORE_INDEX
            return F.cross_entropy(logits[keep].float(), labels[keep])
        start, end = logits.float().unbind(-1)  # each [B, L]
        return (F.cross_entropy(start, labels[:, 0]) + F.cross_entropy(end, labels[:, 1])) / 2
