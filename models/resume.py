"""Surviving preemption: last_epoch.pt, the built-in trainer's resume point in its output dir.

    key = RunKey.of(config_text, cfg, threads)
    progress = load(out / LAST_EPOCH_FILE, loop, key)   # None: train from epoch 1
    ... after every epoch:
    save(out / LAST_EPOCH_FILE, loop, key, progress)
    ... once the run has completed: (out / LAST_EPOCH_FILE).unlink()

After every epoch the trainer saves, atomically (temp file + os.replace), everything
the next epoch reads: the model, the optimizer's state, the LR schedule's plateau
counters, the pruning masks, the shuffling/augmentation generator, the Python, NumPy
and torch (and CUDA) global RNG states, and the record so far (the epochs list, which
epoch best_model.pt holds, the training seconds). A run started again on that output dir
(the runner does so for an interrupted, killed or failed run) continues with the next
epoch and ends with the metrics of a run that was never stopped, bit for bit on the CPU
at the same thread count; `load` prints `resumed from epoch N`.

A checkpoint is resumed only when it belongs to this config: the same config hash
(ksweep.contract.records.config_hash, the run's identity) and the same resolved values. One
exception: NUM_EPOCHS may have changed, as long as the epochs already trained did not
depend on it (any schedule but cosine, whose every step does) and there are no more of
them than NUM_EPOCHS; the run then continues to the new count, as if it had been planned
so from the start. Any other checkpoint is ignored with one line saying why, and the
run trains from epoch 1 (overwriting it after that epoch).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ksweep.contract.records import config_hash

from .config import TrainConfig

if TYPE_CHECKING:
    from .train import Loop

FORMAT = 1  # bump when the contents change; an older file is then ignored, not misread


@dataclass(frozen=True)
class RunKey:
    """What a checkpoint must match to be resumed."""

    config_hash: str
    hash_without_epochs: str  # the same hash with NUM_EPOCHS left out
    config: dict  # the resolved TrainConfig's values
    threads: int  # informational: a different count changes the last bits, not the validity

    @classmethod
    def of(cls, config_text: str, cfg: TrainConfig, threads: int) -> RunKey:
        other = [line for line in config_text.splitlines() if not line.startswith("CONFIG_NUM_EPOCHS=")]
        return cls(config_hash(config_text), config_hash("\n".join(other)), vars(cfg), threads)


@dataclass
class Progress:
    """The run's record so far, as the checkpoint holds it."""

    epochs: list[dict] = field(default_factory=list)  # the rows of training_metrics.json
    kept_epoch: int | None = None  # the epoch best_model.pt holds (SAVE_CHECKPOINT=y)
    train_seconds: float = 0.0  # summed over the starts so far


def save(path: Path, loop: Loop, key: RunKey, progress: Progress) -> None:
    """Write the state after the last epoch of `progress` to `path`, atomically."""
    cuda = loop.device.type == "cuda"
    state = {
        "format": FORMAT,
        "config_hash": key.config_hash,
        "hash_without_epochs": key.hash_without_epochs,
        "config": key.config,
        "threads": key.threads,
        "epoch": progress.epochs[-1]["epoch"],
        "record": {
            "epochs": progress.epochs,
            "kept_epoch": progress.kept_epoch,
            "train_seconds": progress.train_seconds,
        },
        "model": loop.net.state_dict(),
        "optimizer": loop.optimizer.state_dict(),
        "schedule": loop.schedule.state_dict(),
        "pruner": loop.pruner.state_dict() if loop.pruner is not None else None,
        "generator": loop.generator.get_state(),
        "rng": {
            "python": _python_state(),
            "numpy": _numpy_state(),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if cuda else [],
        },
    }
    save_atomic(state, path)


def save_atomic(obj: Any, path: Path) -> None:
    """torch.save through a temp file renamed over `path`: a crash mid-save keeps the old file."""
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load(path: Path, loop: Loop, key: RunKey) -> Progress | None:
    """Restore `loop` from the checkpoint at `path` when it belongs to this run, printing
    `resumed from epoch N`; None (after a line saying why, if there was a file) otherwise."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        reason = mismatch(state, key)
    except Exception as err:  # unreadable: truncated by hand, another torch, not a checkpoint
        reason = f"it cannot be read ({type(err).__name__}: {' '.join(str(err).split())[:200]})"
    if reason:
        print(f"ignored {path.name}: {reason}; training from epoch 1", flush=True)
        return None
    _restore(loop, state)
    done, planned = state["epoch"], state["config"]["epochs"]
    if planned != key.config["epochs"]:
        print(f"NUM_EPOCHS is {key.config['epochs']}, was {planned}: continuing to the new count", flush=True)
    if state["threads"] != key.threads:
        print(
            f"note: epochs 1-{done} ran with {state['threads']} threads, this start has {key.threads}: "
            "the metrics may differ in the last bits from an uninterrupted run's",
            flush=True,
        )
    print(f"resumed from epoch {done}", flush=True)
    record = state["record"]
    return Progress(record["epochs"], record["kept_epoch"], record["train_seconds"])


def mismatch(state: dict, key: RunKey) -> str | None:
    """Why the checkpoint `state` must not be resumed by the run `key` (None: it may)."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        return "it was written by another version of the trainer"
    if state["config_hash"] == key.config_hash and state["config"] == key.config:
        return None
    saved, now = dict(state["config"]), dict(key.config)
    epochs_then, epochs_now = saved.pop("epochs"), now.pop("epochs")
    if state["hash_without_epochs"] != key.hash_without_epochs or saved != now:
        return (
            f"it belongs to another config (config hash {state['config_hash']}, this run's {key.config_hash})"
        )
    if now["scheduler"] == "cosine":
        return (
            f"NUM_EPOCHS changed from {epochs_then} to {epochs_now}, and the cosine schedule of the "
            "epochs it trained depends on it"
        )
    if state["epoch"] > epochs_now:
        return f"it has trained {state['epoch']} epochs, more than NUM_EPOCHS={epochs_now}"
    return None


def _restore(loop: Loop, state: dict) -> None:
    loop.net.load_state_dict(state["model"])
    loop.optimizer.load_state_dict(state["optimizer"])
    loop.schedule.load_state_dict(state["schedule"])
    if loop.pruner is not None:
        loop.pruner.load_state_dict(state["pruner"])
    loop.generator.set_state(state["generator"])
    rng = state["rng"]
    random.setstate(_python_state_from(rng["python"]))
    np.random.set_state(_numpy_state_from(rng["numpy"]))
    torch.set_rng_state(rng["torch"])
    if rng["cuda"]:
        torch.cuda.set_rng_state_all(rng["cuda"])


# The Mersenne Twister states of Python and NumPy as int64 tensors: torch.load(weights_only=True)
# accepts them, and torch.save writes one tensor in a fraction of the time of 625 ints.


def _python_state() -> tuple:
    version, words, gauss = random.getstate()
    return version, torch.tensor(words, dtype=torch.int64), gauss


def _python_state_from(saved: tuple) -> tuple:
    version, words, gauss = saved
    return version, tuple(words.tolist()), gauss


def _numpy_state() -> tuple:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached


def _numpy_state_from(saved: tuple) -> tuple:
    name, keys, pos, has_gauss, cached = saved
    return name, keys.numpy().astype(np.uint32), pos, has_gauss, cached
