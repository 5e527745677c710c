"""Optimizers (SGD, Adam, AdamW, AdamWPrune) and the learning-rate schedule of a run.

    optimizer = build_optimizer(cfg, model.parameters())
    schedule = LRSchedule.from_config(cfg, steps_per_epoch)
    for step ...: set_lr(optimizer, schedule.lr(step)); ...
    schedule.end_epoch(val_loss)                       # plateau bookkeeping
    schedule.load_state_dict(schedule.state_dict())    # that bookkeeping, for last_epoch.pt

SGD takes SGD_MOMENTUM and SGD_NESTEROV; Adam and AdamW take ADAM_BETA1/BETA2/AMSGRAD
and WEIGHT_DECAY (an L2 penalty for SGD and Adam, decoupled for AdamW). AdamWPrune is
AdamW tuned by its own ADAMWPRUNE_* symbols; with PRUNING_METHOD="state" its moment
estimates rank the weights (moment_importance, used by prune.py for the whole Adam family).

The schedule is a plain function of the global step: a linear warmup from 0 to
LEARNING_RATE over WARMUP_EPOCHS, then constant (none), times SCHEDULER_GAMMA every
SCHEDULER_STEP_SIZE epochs (step), a cosine decay to 0 at the last step (cosine), or
times SCHEDULER_GAMMA whenever validation loss has not improved for SCHEDULER_PATIENCE
epochs (plateau). Written out rather than chained from torch.optim.lr_scheduler, which
cannot put a warmup in front of ReduceLROnPlateau.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from .config import TrainConfig


class AdamWPrune(torch.optim.AdamW):
    """AdamW under its own name and symbols (ADAMWPRUNE_*), paired with "state" pruning: the
    pruner ranks weights by this optimizer's moment estimates (moment_importance), so pruning
    keeps no statistics of its own."""


def moment_importance(optimizer: torch.optim.Optimizer, p: torch.Tensor) -> torch.Tensor:
    """|w| * sqrt(v): a weight's size times its RMS gradient, the first-order estimate of how
    much the loss moves when the weight is removed. Plain |w| before the first step."""
    state = optimizer.state.get(p, {})
    if "exp_avg_sq" not in state:
        return p.detach().abs()
    return p.detach().abs() * state["exp_avg_sq"].sqrt()


def build_optimizer(cfg: TrainConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay
        )
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adamwprune": AdamWPrune}
    return kinds[cfg.optimizer](
        params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay, amsgrad=cfg.amsgrad
    )


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


@dataclass
class LRSchedule:
    """The learning rate at each global step; `end_epoch` feeds the plateau rule."""

    kind: str
    base_lr: float
    epochs: int
    steps_per_epoch: int
    warmup_epochs: int = 0
    step_size: int = 1
    gamma: float = 1.0
    patience: int = 0
    plateau_scale: float = 1.0
    best_loss: float = math.inf
    bad_epochs: int = 0

    @classmethod
    def from_config(cls, cfg: TrainConfig, steps_per_epoch: int) -> LRSchedule:
        return cls(
            cfg.scheduler,
            cfg.lr,
            cfg.epochs,
            steps_per_epoch,
            cfg.warmup_epochs,
            cfg.step_size,
            cfg.gamma,
            cfg.patience,
        )

    def lr(self, step: int) -> float:
        warmup_steps = self.warmup_epochs * self.steps_per_epoch
        if step < warmup_steps:
            return self.base_lr * (step + 1) / warmup_steps
        if self.kind == "step":
            epochs_after = (step - warmup_steps) // self.steps_per_epoch
            return self.base_lr * self.gamma ** (epochs_after // self.step_size)
        if self.kind == "cosine":
            span = max(1, self.epochs * self.steps_per_epoch - warmup_steps)
            return self.base_lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup_steps) / span)))
        if self.kind == "plateau":
            return self.base_lr * self.plateau_scale
        return self.base_lr

    def end_epoch(self, val_loss: float) -> None:
        """Count an epoch without improvement of `val_loss`; decay after `patience` of them."""
        if self.kind != "plateau":
            return
        if val_loss < self.best_loss:
            self.best_loss, self.bad_epochs = val_loss, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            self.plateau_scale *= self.gamma
            self.bad_epochs = 0

    def state_dict(self) -> dict:
        """What `end_epoch` has changed; everything else comes from the config."""
        return {
            "plateau_scale": self.plateau_scale,
            "best_loss": self.best_loss,
            "bad_epochs": self.bad_epochs,
        }

    def load_state_dict(self, state: dict) -> None:
        self.plateau_scale, self.best_loss = state["plateau_scale"], state["best_loss"]
        self.bad_epochs = state["bad_epochs"]
