"""A linear probe: multinomial logistic regression on frozen features, trained with torch.

Features are standardised with the training split's mean and std (so one L2 strength suits
every layer, whatever its scale), then the probe is fit full-batch with L-BFGS: deterministic
for a given seed, and fast on the few thousand to few tens of thousands of rows probed here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from schemas.hashing import stable_hash

_SEED_MASK = (1 << 63) - 1


@dataclass(frozen=True)
class ProbeConfig:
    l2: float = 1e-3  # weight decay on the probe's matrix (mean loss + l2/2 * |W|^2)
    max_iter: int = 200  # L-BFGS iterations
    seed: int = 0  # the probe's initial weights


@dataclass(frozen=True)
class Probe:
    weight: torch.Tensor  # [classes, H]
    bias: torch.Tensor  # [classes]
    mean: torch.Tensor  # [H] of the training features
    std: torch.Tensor  # [H]

    def logits(self, x: np.ndarray) -> torch.Tensor:
        z = (torch.as_tensor(x, dtype=torch.float32) - self.mean) / self.std
        return z @ self.weight.T + self.bias

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.logits(x).argmax(-1).numpy()


def train_probe(
    x: np.ndarray, y: np.ndarray, num_classes: int, cfg: ProbeConfig = ProbeConfig()
) -> Probe:
    """Fit on x [N, H] with integer labels y [N] in [0, num_classes)."""
    features = torch.as_tensor(x, dtype=torch.float32)
    labels = torch.as_tensor(y, dtype=torch.long)
    mean = features.mean(0)
    std = features.std(0).clamp(min=1e-6)
    z = (features - mean) / std
    gen = torch.Generator().manual_seed(stable_hash(cfg.seed, "probe") & _SEED_MASK)
    weight = (0.01 * torch.randn(num_classes, z.shape[1], generator=gen)).requires_grad_()
    bias = torch.zeros(num_classes, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=cfg.max_iter, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(z @ weight.T + bias, labels) + 0.5 * cfg.l2 * weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return Probe(weight.detach(), bias.detach(), mean, std)


def accuracy(probe: Probe, x: np.ndarray, y: np.ndarray) -> float:
    return float((probe.predict(x) == np.asarray(y)).mean()) if len(y) else 0.0


def probe_accuracy(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    num_classes: int,
    cfg: ProbeConfig = ProbeConfig(),
) -> float:
    """Train on one split, return accuracy on the other."""
    return accuracy(train_probe(x_train, y_train, num_classes, cfg), x_test, y_test)


def split_indices(n: int, test_fraction: float, seed: int, salt: str) -> tuple[list, list]:
    """(train, test) index lists: a seeded hash ranks the items; the first fraction is test."""
    ranked = sorted(range(n), key=lambda i: stable_hash(seed, salt, i))
    cut = max(1, round(test_fraction * n))
    return sorted(ranked[cut:]), sorted(ranked[:cut])
