"""Gradual unstructured pruning of conv and linear weights, and the sparsity a run reports.

    pruner = Pruner.from_config(cfg, model, steps_per_epoch)   # None when PRUNING_METHOD="none"
    for step ...:
        optimizer.step()
        pruner.after_step(step + 1, optimizer)
    measured_sparsity(prunable_weights(model))                  # 0.5: half the weights are 0
    pruner.load_state_dict(pruner.state_dict())                 # the masks, for last_epoch.pt

The target follows the cubic ramp of Zhu & Gupta (2017): sparsity(t) = TARGET_SPARSITY *
(1 - (1 - t)^3), t going from 0 at PRUNING_WARMUP (steps) to 1 at PRUNING_RAMP_END_EPOCH
(epochs, i.e. that many times steps_per_epoch). On the ramp the masks are recomputed every
PRUNING_FREQUENCY steps (at least MIN_RAMP_UPDATES times on a short ramp) and once at
its end, then kept. Prunable are the weights of conv
and linear layers (not biases, not norms), ranked in one global order:

- magnitude: |w|;
- state: |w| * sqrt(v), the optimizer's second-moment estimate (optim.moment_importance;
  Adam, AdamW or AdamWPrune), so weights that are small *and* rarely pushed go first.

A pruned weight is set to zero after every optimizer step, so it stays zero and scores 0
at the next update: sparsity only grows. The sparsity a run reports is measured from the
weights (share of exact zeros among prunable weights), never taken from the schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import TrainConfig
from .optim import moment_importance


def prunable_weights(model: nn.Module) -> list[nn.Parameter]:
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@torch.no_grad()
def measured_sparsity(weights: list[torch.Tensor]) -> float:
    """Share of exactly-zero entries among `weights`."""
    zeros = sum(int((w == 0).sum()) for w in weights)
    return zeros / max(1, sum(w.numel() for w in weights))


MIN_RAMP_UPDATES = 10


@dataclass
class Pruner:
    method: str  # magnitude | state
    weights: list[nn.Parameter]
    target: float
    start: int  # step where the ramp starts
    end: int  # step where it reaches the target
    frequency: int
    masks: list[torch.Tensor] | None = None

    @classmethod
    def from_config(cls, cfg: TrainConfig, model: nn.Module, steps_per_epoch: int) -> Pruner | None:
        if cfg.pruning == "none":
            return None
        end = cfg.ramp_end_epoch * steps_per_epoch
        # A ramp shorter than PRUNING_FREQUENCY would prune in one shot at its end; update
        # at least MIN_RAMP_UPDATES times so short runs prune gradually too.
        frequency = min(cfg.pruning_frequency, max(1, (end - cfg.pruning_warmup) // MIN_RAMP_UPDATES))
        weights = prunable_weights(model)
        return cls(cfg.pruning, weights, cfg.target_sparsity, cfg.pruning_warmup, end, frequency)

    def target_at(self, step: int) -> float:
        t = min(1.0, max(0.0, (step - self.start) / (self.end - self.start)))
        return self.target * (1 - (1 - t) ** 3)

    def state_dict(self) -> dict:
        """The masks (None before the first update); the schedule comes from the config."""
        return {"masks": self.masks}

    def load_state_dict(self, state: dict) -> None:
        masks = state["masks"]
        self.masks = (
            None if masks is None else [m.to(w.device) for m, w in zip(masks, self.weights, strict=True)]
        )

    @torch.no_grad()
    def after_step(self, step: int, optimizer: torch.optim.Optimizer) -> None:
        """Call after each optimizer step, `step` counting the steps taken so far."""
        on_ramp = self.start <= step <= self.end
        if on_ramp and ((step - self.start) % self.frequency == 0 or step == self.end):
            self._update_masks(self.target_at(step), optimizer)
        if self.masks is not None:
            torch._foreach_mul_(self.weights, self.masks)

    def _update_masks(self, sparsity: float, optimizer: torch.optim.Optimizer) -> None:
        if self.method == "state":
            scores = [moment_importance(optimizer, w) for w in self.weights]
        else:
            scores = [w.detach().abs() for w in self.weights]
        flat = torch.cat([s.flatten() for s in scores])
        k = round(sparsity * flat.numel())
        if k == 0:
            return
        keep = torch.ones_like(flat)
        keep[torch.topk(flat, k, largest=False, sorted=False).indices] = 0
        self.masks = [
            m.view_as(w)
            for m, w in zip(keep.split([w.numel() for w in self.weights]), self.weights, strict=True)
        ]
