"""trainer.model: BERT architecture (vs transformers.BertForPreTraining), masked-only MLM head,
vocabulary padding, losses at init, and an overfit check on a real loader batch."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tests.example_fixtures import write_example_set
from trainer.bert_config import PRESETS
from trainer.model import (
    IGNORE_INDEX,
    BertConfig,
    BertForPretraining,
    Dropout,
    attention,
)

VOCAB = 1000  # not a multiple of 64: exercises the padded rows


def _batch(
    seed: int = 0, batch: int = 6, length: int = 24, vocab: int = VOCAB, pairs: bool = True
) -> dict:
    """A padded batch in the loader's layout: [CLS]=2 A [SEP]=3 B [SEP] pad=0, ~15% labels."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (batch, length), generator=g)
    lengths = torch.randint(length // 2, length + 1, (batch,), generator=g)
    lengths[0] = length
    pos = torch.arange(length)[None, :]
    real = pos < lengths[:, None]
    ids[:, 0] = 2
    ids[torch.arange(batch), lengths - 1] = 3
    ids[~real] = 0
    token_type = ((pos >= lengths[:, None] // 2) & real).long()
    chosen = (torch.rand(batch, length, generator=g) < 0.15) & real & (pos > 0)
    chosen[:, 1] = True  # every row predicts something
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX))
    inputs = torch.where(chosen, torch.full_like(ids, 4), ids)  # [MASK] = 4
    pair = torch.randint(0, 2, (batch,), generator=g) if pairs else torch.full((batch,), -100)
    return {
        "input_ids": inputs,
        "token_type_ids": token_type,
        "attention_mask": real.long(),
        "labels": labels,
        "pair_label": pair,
    }


def _tiny(vocab: int = VOCAB, seed: int = 0, **overrides) -> BertForPretraining:
    torch.manual_seed(seed)
    cfg = BertConfig.preset("tiny", vocab_size=vocab, dropout=0.0, attention_dropout=0.0)
    return BertForPretraining(BertConfig(**{**cfg.__dict__, **overrides}))


def _scramble(model: torch.nn.Module, seed: int = 1, std: float = 0.08) -> None:
    """Non-trivial weights (random LayerNorm scales, larger logits) so comparisons bite."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * std)


def test_presets_and_padded_vocab():
    sizes = {name: BertConfig.preset(name) for name in PRESETS}
    assert [
        (c.num_layers, c.hidden_size, c.num_heads, c.intermediate_size) for c in sizes.values()
    ] == [(2, 128, 2, 512), (4, 256, 4, 1024), (4, 512, 8, 2048), (12, 768, 12, 3072)]
    assert BertConfig(vocab_size=30522).padded_vocab_size == 30528
    assert BertConfig(vocab_size=128).padded_vocab_size == 128
    counts = {}
    for name, cfg in sizes.items():
        with torch.device("meta"):  # shapes only, no memory
            model = BertForPretraining(cfg)
        v, h, ff, n = cfg.padded_vocab_size, cfg.hidden_size, cfg.intermediate_size, cfg.num_layers
        embeddings = (v + 512 + 2) * h + 2 * h
        layer = (3 * h * h + 3 * h) + (h * h + h) + 2 * h + (h * ff + ff) + (ff * h + h) + 2 * h
        heads = (h * h + h) + (h * h + h + 2 * h + v) + (2 * h + 2)  # pooler, MLM, pair
        counts[name] = model.num_parameters()
        assert counts[name] == embeddings + n * layer + heads
    assert 109e6 < counts["base"] < 111e6  # BERT-base with its pretraining heads: ~110M
    with pytest.raises(ValueError, match="unknown model size"):
        BertConfig.preset("huge")
    with pytest.raises(ValueError, match="divisible"):
        BertConfig(hidden_size=100, num_heads=3)


def test_init_losses_are_uniform_guesses():
    """Init (normal 0.02) gives near-uniform predictions: MLM ~ ln(vocab), pair ~ ln 2."""
    vocab = 30522
    model = _tiny(vocab=vocab).eval()
    with torch.no_grad():
        out = model(_batch(vocab=vocab, batch=16, length=64))
    assert out["mlm_loss"].item() == pytest.approx(math.log(vocab), abs=0.05)
    assert out["pair_loss"].item() == pytest.approx(math.log(2), abs=0.05)
    assert out["loss"].item() == pytest.approx(out["mlm_loss"].item() + out["pair_loss"].item())


def test_masked_only_head_equals_full_position_loss():
    model = _tiny()
    _scramble(model)
    model.eval()
    batch = _batch(seed=3)
    with torch.no_grad():
        out = model(batch)
        full = model.mlm_logits(model.encode(batch))  # [B, L, V] at every position
    assert full.shape == (*batch["input_ids"].shape, VOCAB)
    expected = F.cross_entropy(
        full.reshape(-1, VOCAB), batch["labels"].reshape(-1), ignore_index=IGNORE_INDEX
    )
    assert out["mlm_loss"].item() == pytest.approx(expected.item(), abs=1e-5)
    predicted = batch["labels"] != IGNORE_INDEX
    assert out["mlm_total"].item() == predicted.sum().item()
    correct = (full.argmax(-1) == batch["labels"])[predicted].sum().item()
    assert out["mlm_correct"].item() == correct


def test_padded_vocabulary_ids_are_never_predicted():
    model = _tiny()
    assert model.embeddings.word.weight.shape[0] == 1024 > VOCAB
    with torch.no_grad():
        model.mlm_bias[VOCAB:] = 1e4  # would win every argmax if padded ids were scored
    batch = _batch(seed=4)
    out = model(batch)
    assert out["mlm_correct"].item() >= 0 and torch.isfinite(out["loss"])
    hidden = model.encode(batch)[batch["labels"] != IGNORE_INDEX]
    assert model.padded_mlm_logits(hidden).argmax(-1).max().item() < VOCAB
    out["loss"].backward()
    assert torch.all(model.mlm_bias.grad[VOCAB:] == 0)
    assert torch.all(model.embeddings.word.weight.grad[VOCAB:] == 0)


def test_padding_does_not_change_outputs():
    model = _tiny()
    _scramble(model)
    model.eval()
    batch = _batch(seed=5)
    wider = {
        k: F.pad(v, (0, 8), value=IGNORE_INDEX if k == "labels" else 0) if v.dim() == 2 else v
        for k, v in batch.items()
    }
    with torch.no_grad():
        a, b = model(batch), model(wider)
    for key in ("loss", "mlm_loss", "pair_loss", "mlm_correct", "pair_correct"):
        assert a[key].item() == pytest.approx(b[key].item(), abs=1e-5), key


def test_no_pair_examples_give_zero_pair_loss():
    model = _tiny()
    out = model(_batch(seed=6, pairs=False))
    assert out["pair_total"].item() == 0 and out["pair_loss"].item() == 0.0
    assert out["loss"].item() == out["mlm_loss"].item()
    out["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_matches_transformers_bert_for_pretraining():
    """Same weights in HF BertForPreTraining: same logits and loss (the architecture is BERT)."""
    from transformers import BertConfig as HFConfig
    from transformers import BertForPreTraining

    ours = _tiny()
    _scramble(ours)
    ours.eval()
    cfg = ours.cfg
    hf = BertForPreTraining(
        HFConfig(
            vocab_size=VOCAB,
            hidden_size=cfg.hidden_size,
            num_hidden_layers=cfg.num_layers,
            num_attention_heads=cfg.num_heads,
            intermediate_size=cfg.intermediate_size,
            hidden_act="gelu",
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            max_position_embeddings=cfg.max_position_embeddings,
            layer_norm_eps=cfg.layer_norm_eps,
        )
    ).eval()
    from trainer.hf_mapping import to_hf_state_dict

    missing, unexpected = hf.load_state_dict(to_hf_state_dict(ours), strict=False)
    assert not unexpected and all(".decoder." in k for k in missing)  # tied: not repeated
    batch = _batch(seed=7)
    with torch.no_grad():
        theirs = hf(
            input_ids=batch["input_ids"],
            token_type_ids=batch["token_type_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch["labels"],
            next_sentence_label=batch["pair_label"],
        )
        out = ours(batch)
        logits = ours.mlm_logits(ours.encode(batch))
        pair_logits = ours.pair_head(ours.pool(ours.encode(batch)[:, 0]))
    real = batch["attention_mask"].bool()
    assert torch.allclose(logits[real], theirs.prediction_logits[real], atol=1e-4)
    assert torch.allclose(pair_logits, theirs.seq_relationship_logits, atol=1e-4)
    assert out["loss"].item() == pytest.approx(theirs.loss.item(), abs=1e-4)
    assert out["loss"].item() > 1.0  # scrambled weights: a loss far from trivial


def test_dropout_active_only_in_training():
    torch.manual_seed(0)
    model = BertForPretraining(BertConfig.preset("tiny", vocab_size=VOCAB))
    batch = _batch(seed=8)
    with torch.no_grad():
        model.train()
        a, b = model(batch)["loss"], model(batch)["loss"]
        model.eval()
        c, d = model(batch)["loss"], model(batch)["loss"]
    assert a.item() != b.item() and c.item() == d.item()


def test_cpu_dropout_rate_and_scale():
    torch.manual_seed(0)
    drop = Dropout(0.1).train()
    x = torch.ones(400_000)
    y = drop(x)
    zeroed = (y == 0).float().mean().item()
    sigma = math.sqrt(0.1 * 0.9 / x.numel())
    assert abs(zeroed - 0.1) < 4 * sigma
    assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / 0.9))
    assert drop.eval()(x) is x


def test_cpu_attention_path_equals_sdpa():
    """The explicit softmax path (used for dropout on CPU) is SDPA's math, mask included."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 2, 10, 8, generator=g) for _ in range(3))
    key_mask = torch.ones(3, 1, 1, 10, dtype=torch.bool)
    key_mask[1, ..., 6:] = False
    no_drop = Dropout(0.0)  # p=0 takes the SDPA branch; p=1e-9 the explicit one
    explicit = attention(q, k, v, key_mask, Dropout(1e-9).train())
    sdpa = attention(q, k, v, key_mask, no_drop)
    assert torch.allclose(explicit, sdpa, atol=1e-5)
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask)
    assert torch.equal(sdpa, reference)


def test_overfits_a_repeated_real_batch(tmp_path):
    """A real CPU training step (loader batch, AdamW, clipping) drives the loss down."""
    from trainer.data import LoaderConfig, PretrainingData
    from trainer.pretrain import TrainConfig, make_optimizer
    from trainer.runtime import tune_cpu_allocator

    tune_cpu_allocator()  # as pretrain does on CPU: freed activations stay in the heap
    write_example_set(tmp_path / "set", num_examples=40, seed=3)
    data = PretrainingData(str(tmp_path / "set"), LoaderConfig(batch_size=8, seed=0))
    batch = max(data, key=lambda b: int(b["labels"].ne(IGNORE_INDEX).sum()))
    model = _tiny(vocab=data.vocab_size)
    cfg = TrainConfig(shards=("unused",), output="unused", lr=2e-3, weight_decay=0.0)
    optimizer = make_optimizer(model, cfg, torch.device("cpu"))
    model.train()
    losses = []
    for _ in range(25):
        loss = model(batch)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    assert losses[0] == pytest.approx(math.log(data.vocab_size) + math.log(2), abs=0.2)
    assert losses[-1] < 0.4 * losses[0], losses
    with torch.no_grad():
        out = model.eval()(batch)
    assert out["mlm_correct"].item() / out["mlm_total"].item() > 0.5


def test_cpu_math_flushes_subnormals_to_zero():
    """Subnormal floats slow x86 arithmetic several-fold; pretrain, finetune and probe flush
    them (trainer/runtime.py set_cpu_math)."""
    from trainer.runtime import set_cpu_math

    tiny = torch.finfo(torch.float32).tiny  # the smallest normal float32
    try:
        torch.set_flush_denormal(False)
        assert (torch.tensor([tiny]) / 4).item() > 0  # a subnormal result is kept...
        set_cpu_math(0)
        assert (torch.tensor([tiny]) / 4).item() == 0.0  # ...and flushed once set
        assert (torch.tensor([tiny]) * 4).item() == pytest.approx(4 * tiny)  # normals kept
    finally:
        torch.set_flush_denormal(True)
