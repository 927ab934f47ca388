"""Train-step throughput: our BertForPretraining vs transformers.BertForPreTraining.

Same config (tiny/mini/small, vocab 30522, dropout 0.1), same batch (32 x 128 real tokens,
15% MLM labels, NSP labels), same AdamW, 2 threads, measured in one process with the steps of
the two models interleaved, so load from other processes hits both alike. A step is forward +
backward + optimizer step. Both run after ``tune_cpu_allocator()`` (what trainer.pretrain does
on CPU; a process-wide malloc setting, so the peer gets it too).

    python -m bench.bench_train            # tiny, mini, small (+ ours in bf16 autocast)
    python -c "import bench.bench_train as b; print(b.run(quick=True))"   # tiny only
"""

from __future__ import annotations

import json
import statistics
import time

VOCAB = 30522  # bert-base-uncased
BATCH, SEQ_LEN, THREADS = 32, 128, 2


def _batch(seed: int = 0) -> dict:
    import torch

    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, VOCAB, (BATCH, SEQ_LEN), generator=g)
    ids[:, 0], ids[:, SEQ_LEN // 2], ids[:, -1] = 101, 102, 102  # [CLS] A [SEP] B [SEP]
    token_type = torch.zeros_like(ids)
    token_type[:, SEQ_LEN // 2 + 1 :] = 1
    chosen = torch.rand(BATCH, SEQ_LEN, generator=g) < 0.15
    chosen[:, 0] = chosen[:, SEQ_LEN // 2] = chosen[:, -1] = False
    return {
        "input_ids": torch.where(chosen, torch.full_like(ids, 103), ids),
        "token_type_ids": token_type,
        "attention_mask": torch.ones_like(ids),
        "labels": torch.where(chosen, ids, torch.full_like(ids, -100)),
        "pair_label": torch.randint(0, 2, (BATCH,), generator=g),
    }


def _ours(size: str, batch: dict, bf16: bool = False):
    import torch

    from trainer.model import BertConfig, BertForPretraining

    model = BertForPretraining(BertConfig.preset(size, vocab_size=VOCAB)).train()

    def loss():
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            return model(batch)["loss"]

    return model, loss


def _peer(size: str, batch: dict):
    from transformers import BertConfig as HFConfig
    from transformers import BertForPreTraining

    from trainer.bert_config import PRESETS

    layers, hidden, heads, ff = PRESETS[size]
    cfg = HFConfig(
        vocab_size=VOCAB,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=ff,
    )
    model = BertForPreTraining(cfg).train()
    kwargs = {k: batch[k] for k in ("input_ids", "token_type_ids", "attention_mask", "labels")}
    return model, lambda: model(**kwargs, next_sentence_label=batch["pair_label"]).loss


def _stepper(model, loss_fn):
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

    def step() -> float:
        start = time.perf_counter()
        loss_fn().backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    return step


def _summary(seconds: list[float]) -> dict:
    tokens = BATCH * SEQ_LEN
    return {
        "tokens_per_s_median": round(tokens / statistics.median(seconds)),
        "tokens_per_s_best": round(tokens / min(seconds)),
        "step_s_median": round(statistics.median(seconds), 4),
        "steps": len(seconds),
    }


def bench_size(size: str, steps: int, *, bf16: bool = False) -> dict:
    """Interleaved steps of ours and the peer (one warm-up step each, not timed)."""
    batch = _batch()
    contenders = {"ours": _stepper(*_ours(size, batch)), "hf": _stepper(*_peer(size, batch))}
    if bf16:
        contenders["ours_bf16"] = _stepper(*_ours(size, batch, bf16=True))
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for i in range(steps + 1):
        for name, step in contenders.items():
            elapsed = step()
            if i:
                times[name].append(elapsed)
    result = {name: _summary(t) for name, t in times.items()}
    for name in contenders:
        if name != "hf":
            ratio = result["hf"]["step_s_median"] / result[name]["step_s_median"]
            result[f"speedup_{name}_vs_hf"] = round(ratio, 2)
    return result


def run(quick: bool = False) -> dict:
    import torch

    from trainer.runtime import tune_cpu_allocator

    tune_cpu_allocator()
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    plan = {"tiny": 3} if quick else {"tiny": 5, "mini": 4, "small": 3}
    results = {
        size: bench_size(size, n, bf16=not quick and size != "small") for size, n in plan.items()
    }
    return {
        "stage": "train",
        "setup": {
            "batch": BATCH,
            "seq_len": SEQ_LEN,
            "vocab": VOCAB,
            "threads": THREADS,
            "torch": torch.__version__,
            "quick": quick,
        },
        "sizes": results,
        "speedup_vs_hf": {size: r["speedup_ours_vs_hf"] for size, r in results.items()},
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
