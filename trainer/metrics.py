"""What a pretraining run reports: per-window training means (log.jsonl) and held-out MLM /
pair accuracy (eval.json), both summed over DDP ranks."""

from __future__ import annotations

import time

from trainer.runtime import Distributed


class Window:
    """Sums of step metrics since the last log line (kept on device: no per-step sync)."""

    _KEYS = (
        "loss",
        "mlm_loss",
        "pair_loss",
        "mlm_correct",
        "mlm_total",
        "pair_correct",
        "pair_total",
    )

    def __init__(self, device) -> None:
        import torch

        self.device, self.torch = device, torch
        self.reset()

    def reset(self) -> None:
        self.sums = self.torch.zeros(
            len(self._KEYS) + 2, dtype=self.torch.float64, device=self.device
        )
        self.steps, self.start, self.excluded = 0, time.perf_counter(), 0.0

    def exclude(self, seconds: float) -> None:
        self.excluded += seconds

    def add(self, out: dict, attention_mask, grad_norm) -> None:
        values = [out[k].detach().double() for k in self._KEYS]
        values.append(attention_mask.sum().double())
        values.append(grad_norm.detach().double() if grad_norm is not None else values[0] * 0)
        self.sums += self.torch.stack(values)
        self.steps += 1

    def flush(self, dist: Distributed) -> dict:
        """Means over the window's steps and all ranks; tokens/s summed over ranks."""
        totals = dist.all_sum(self.sums).tolist()
        s = dict(zip((*self._KEYS, "tokens", "grad_norm"), totals, strict=True))
        elapsed = time.perf_counter() - self.start - self.excluded
        n = max(self.steps * dist.world_size, 1)
        record = {
            "loss": s["loss"] / n,
            "mlm_loss": s["mlm_loss"] / n,
            "pair_loss": s["pair_loss"] / n,
            "mlm_acc": s["mlm_correct"] / max(s["mlm_total"], 1),
            "pair_acc": s["pair_correct"] / s["pair_total"] if s["pair_total"] else None,
            "grad_norm": s["grad_norm"] / n,
            "tokens_per_s": s["tokens"] / max(elapsed, 1e-9),
        }
        self.reset()
        return record


def evaluate(model, data, cfg, dist: Distributed) -> dict:
    """MLM and pair accuracy/loss over the first eval_batches batches (summed over ranks)."""
    import torch

    model.eval()
    sums = torch.zeros(6, dtype=torch.float64, device=dist.device)
    autocast = torch.autocast(dist.device.type, torch.bfloat16, enabled=cfg.precision == "bf16")
    data.set_epoch(0)  # same batches and masks at every evaluation
    with torch.no_grad(), autocast:
        for i, batch in enumerate(data):
            if i >= cfg.eval_batches:
                break
            out = model({k: v.to(dist.device) for k, v in batch.items()})
            sums += torch.stack(
                [
                    out["mlm_loss"].double() * out["mlm_total"],
                    out["mlm_correct"].double(),
                    out["mlm_total"].double(),
                    out["pair_loss"].double() * out["pair_total"],
                    out["pair_correct"].double(),
                    out["pair_total"].double(),
                ]
            )
    mlm_sum, mlm_correct, mlm_total, pair_sum, pair_correct, pair_total = dist.all_sum(
        sums
    ).tolist()
    return {
        "mlm_loss": mlm_sum / max(mlm_total, 1),
        "mlm_acc": mlm_correct / max(mlm_total, 1),
        "pair_loss": pair_sum / max(pair_total, 1),
        "pair_acc": pair_correct / pair_total if pair_total else None,  # None: no pairs
        "mlm_predictions": int(mlm_total),
        "pairs": int(pair_total),
    }
