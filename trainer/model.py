"""A compact BERT encoder for pretraining with MLM + a sentence-pair head (NSP or SOP).

Architecture follows google-research/bert (post-LN, exact GELU, tanh pooler, decoder tied to the
word embeddings) so weights map one-to-one onto ``transformers.BertForPreTraining`` (export and
import: trainer/hf.py). Two things differ for speed: attention is one fused QKV projection run
through ``scaled_dot_product_attention``, and the MLM head runs only on the masked positions
(~15% of tokens) instead of every position — on a 30k vocabulary that head dominates small models.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from trainer.bert_config import BertConfig
from trainer.masking import IGNORE_INDEX  # label of positions/examples that are not predicted


class Dropout(nn.Dropout):
    """nn.Dropout, but on CPU the keep-mask comes from torch.rand (vectorised) instead of
    bernoulli_, which draws element by element there and was ~11% of a CPU training step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0 or x.device.type != "cpu":
            return super().forward(x)
        keep = torch.rand_like(x).ge_(self.p).mul_(1.0 / (1.0 - self.p))  # 0 or 1/(1-p)
        return x * keep


def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor, dropout: Dropout
) -> torch.Tensor:
    """Softmax attention with dropout on the probabilities; q, k, v [B, heads, L, head_dim],
    key_mask [B, 1, 1, L] bool -> [B, heads, L, head_dim].

    scaled_dot_product_attention, except when dropping out on CPU: there SDPA falls back to
    its math path with bernoulli_, so the same math with our Dropout is faster.
    """
    if dropout.training and dropout.p > 0.0 and q.device.type == "cpu":
        scores = torch.matmul(q, k.transpose(-1, -2)).mul_(q.shape[-1] ** -0.5)
        probs = torch.softmax(scores.masked_fill_(~key_mask, float("-inf")), dim=-1)
        return torch.matmul(dropout(probs), v)
    p = dropout.p if dropout.training else 0.0
    return F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask, dropout_p=p)


class Embeddings(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.word = nn.Embedding(cfg.padded_vocab_size, cfg.hidden_size)
        self.position = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = Dropout(cfg.dropout)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        seq_len = input_ids.shape[1]
        x = self.word(input_ids) + self.token_type(token_type_ids)  # [B, L, H]
        x = x + self.position.weight[:seq_len]  # [L, H] broadcast over the batch
        return self.dropout(self.norm(x))


class SelfAttention(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.num_heads = cfg.num_heads
        self.dropout = Dropout(cfg.attention_dropout)
        self.qkv = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size)  # one matmul, not three

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        """x [B, L, H], key_mask [B, 1, 1, L] (True: real token) -> context [B, L, H].

        The output projection is left to the caller, which may apply it to fewer rows.
        """
        batch, seq_len, hidden = x.shape
        qkv = self.qkv(x).view(batch, seq_len, 3, self.num_heads, hidden // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [B, heads, L, head_dim]
        y = attention(q, k, v, key_mask, self.dropout)  # [B, heads, L, head_dim]
        return y.transpose(1, 2).reshape(batch, seq_len, hidden)


class EncoderLayer(nn.Module):
    """Post-LN transformer block, as in the original BERT."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.attention = SelfAttention(cfg)
        self.attention_out = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.attention_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.ff_in = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.ff_out = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.ff_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = Dropout(cfg.dropout)

    def forward(
        self, x: torch.Tensor, key_mask: torch.Tensor, keep: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x [B, L, H] -> [B, L, H], or [N, H] (the rows where keep [B, L] is True)."""
        context = self.attention(x, key_mask)  # [B, L, H]: every row is a key/value
        if keep is not None:  # everything below is per position: compute only kept rows
            x, context = x[keep], context[keep]  # [N, H]
        x = self.attention_norm(x + self.dropout(self.attention_out(context)))
        return self.ff_norm(x + self.dropout(self.ff_out(F.gelu(self.ff_in(x)))))


class BertForPretraining(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embeddings = Embeddings(cfg)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.num_layers))
        self.pooler = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.mlm_transform = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.mlm_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        # Decoder weight is tied to embeddings.word; only its bias is separate.
        self.mlm_bias = nn.Parameter(torch.zeros(cfg.padded_vocab_size))
        # -inf on the padding ids, folded into the bias: padded logits come out -inf (never
        # predicted, zero gradient) without slicing [M, V] logits, whose backward costs a copy.
        vocab_pad = torch.zeros(cfg.padded_vocab_size)
        vocab_pad[cfg.vocab_size :] = float("-inf")
        self.vocab_pad: torch.Tensor  # [padded V], registered as a non-persistent buffer
        self.register_buffer("vocab_pad", vocab_pad, persistent=False)
        self.pair_head = nn.Linear(cfg.hidden_size, 2)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        std = self.cfg.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def encode(
        self, batch: dict[str, torch.Tensor], keep: torch.Tensor | None = None
    ) -> torch.Tensor:
        """-> sequence output [B, L, H]; with keep [B, L] bool, only those rows: [N, H].

        keep prunes the last layer after attention (its output projection, FFN and norms are
        per position), which is all the heads read; that is ~1/num_layers of the encoder.
        """
        key_mask = batch["attention_mask"].bool()[:, None, None, :]  # [B, 1, 1, L]
        x = self.embeddings(batch["input_ids"], batch["token_type_ids"])  # [B, L, H]
        for i, layer in enumerate(self.layers):
            x = layer(x, key_mask, keep if i == len(self.layers) - 1 else None)
        return x

    def pool(self, cls_hidden: torch.Tensor) -> torch.Tensor:
        """[CLS] hidden state [B, H] -> pooled [B, H] (input of the pair/sentence heads)."""
        return torch.tanh(self.pooler(cls_hidden))

    def padded_mlm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """[..., H] -> [..., padded V], -inf at the padding ids (what the loss uses)."""
        h = self.mlm_norm(F.gelu(self.mlm_transform(hidden)))
        return F.linear(h, self.embeddings.word.weight, self.mlm_bias + self.vocab_pad)

    def mlm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """[..., H] -> [..., vocab_size]: the real vocabulary only."""
        return self.padded_mlm_logits(hidden)[..., : self.cfg.vocab_size]

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Batch (loader contract) -> loss = mlm_loss + pair_loss, plus detached counts.

        Each loss is a mean over its predicted items (0 when there are none, e.g. pair_task
        "none"), so it equals HF BertForPreTraining's ``loss`` on the same weights.
        """
        labels = batch["labels"]  # [B, L]
        predicted = labels != IGNORE_INDEX  # [B, L]
        is_cls = torch.zeros_like(predicted)
        is_cls[:, 0] = True
        keep = predicted | is_cls  # rows the heads read
        rows = self.encode(batch, keep)  # [N, H], row-major over (B, L)
        pooled = self.pool(rows[is_cls[keep]])  # [B, H]
        mlm_logits = self.padded_mlm_logits(rows[predicted[keep]])  # [M, padded V], M masked
        mlm_targets = labels[predicted]  # [M]
        mlm_total = predicted.sum()
        mlm_loss = F.cross_entropy(mlm_logits.float(), mlm_targets, reduction="sum")
        mlm_loss = mlm_loss / mlm_total.clamp(min=1)

        pair_labels = batch["pair_label"]  # [B]
        pair_logits = self.pair_head(pooled)  # [B, 2]
        has_pair = pair_labels != IGNORE_INDEX
        pair_total = has_pair.sum()
        pair_loss = F.cross_entropy(
            pair_logits.float(), pair_labels, ignore_index=IGNORE_INDEX, reduction="sum"
        ) / pair_total.clamp(min=1)
        with torch.no_grad():
            mlm_correct = (mlm_logits.argmax(-1) == mlm_targets).sum()
            pair_correct = ((pair_logits.argmax(-1) == pair_labels) & has_pair).sum()
        return {
            "loss": mlm_loss + pair_loss,
            "mlm_loss": mlm_loss,
            "pair_loss": pair_loss,
            "mlm_correct": mlm_correct,
            "mlm_total": mlm_total,
            "pair_correct": pair_correct,
            "pair_total": pair_total,
        }

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @classmethod
    def from_hf(cls, hf_dir: str, **config_overrides: Any) -> BertForPretraining:
        """A Hugging Face BERT folder -> our model (eval mode); see trainer/hf.py.

        Parts the folder lacks (pooler, MLM or pair head) start fresh: ``load_hf`` also
        returns their names.
        """
        return cls.load_hf(hf_dir, **config_overrides)[0]

    @classmethod
    def load_hf(cls, hf_dir: str, **config_overrides: Any) -> tuple[BertForPretraining, list[str]]:
        """(from_hf's model, names of the parts that started fresh: pooler, mlm_head, ...)."""
        from trainer.hf import build_from_hf

        return build_from_hf(cls, hf_dir, **config_overrides)
