"""The built-in trainer: `python -m models.train --config FILE --output-dir DIR`.

    $ python -m models.train --config defconfigs/lenet5-digits --output-dir /tmp/run
    run model lenet5 dataset digits optimizer adamw pruning none device cpu threads 2 train 1374 ...
    epoch 1/5 train_loss 1.4106 train_acc 58.18 val_loss 0.5035 val_acc 84.97 lr 0.001 sparsity 0.000 time 0.12s
    ...
    final val_acc 97.39 val_loss 0.0679 test_acc 96.67 sparsity 0.000 train_seconds 0.61
    status completed

It honours the trainer contract of shared/design.md: read the config file, write
training_metrics.json (schema: ksweep/contract/records.py) into the output dir, atomically after
every epoch with status `running` until the end; while the runner's stopper judges it, it
waits for the verdict on each epoch before the next (ksweep/contract/verdict.py). `final`
describes the last epoch's model: its val_acc, val_loss, sparsity and, once it is tested, its test_acc.
SAVE_CHECKPOINT=y also keeps best_model.pt: the epoch with the best val_acc among those
that reached TARGET_SPARSITY (any epoch without pruning; the last epoch when none did),
and `final` says which (checkpoint_epoch, checkpoint_val_acc, checkpoint_sparsity,
checkpoint_test_acc). Accuracies are percentages, sparsity a measured fraction.

It survives preemption: after every epoch it saves last_epoch.pt into the output dir
(atomically; models/resume.py says what it holds and when it is resumed). Started again
on that dir (the runner starts an unfinished run again with the same --output-dir),
it prints `resumed from epoch N`, takes the epochs so far from the file
(the runner has removed training_metrics.json) and trains epochs N+1.. only, ending
with the metrics of a run never stopped, bit for bit on the CPU at the same thread
count. A checkpoint of another config is ignored with a line saying so. The file is
removed once the run has completed, and kept however else it ends.

Exit codes: 0 completed; 2 config or data refused before training (one line on stderr,
status failed, no traceback); 3 diverged (a non-finite loss; the error names epoch and
step); 130 interrupted; 1 anything else (the traceback goes to stderr).

The runner's fork server imports this module, calls warmup() once (imports and
first-call costs, CPU only, never CUDA) and forks one child per run, which calls
run(config_path, output_dir). run() seeds Python, NumPy and torch and sets the thread
count itself, so it gives the same metrics in a fresh interpreter, a forked child or on
a second call in one process. Environment: KSWEEP_THREADS (threads when CPU_THREADS=0;
default the cores this process may use; on the CPU the thread count is the one
environment input to the metrics, recorded as env.threads and env.threads_from),
KSWEEP_GIT_COMMIT (the commit recorded in env; default
`git rev-parse HEAD` in the project), KSWEEP_PAUSE_AT=epoch-N (for tests: the trainer
stops itself with SIGSTOP just before epoch N trains; ksweep/contract/pause.py).
"""  # noqa: E501 (the example epoch line is one real line)

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ksweep.contract import verdict
from ksweep.contract.pause import pause_point
from ksweep.contract.records import FINAL_KEYS, METRICS_FILE, new_metrics, write_json_atomic
from ksweep.contract.sweepdir import CHECKPOINT_FILE, LAST_EPOCH_FILE, RunPaths

from . import data, env, lenet5, mlp, resnet18, resume
from .config import ConfigError, TrainConfig, check_schedule, default_config, load_train_config
from .optim import LRSchedule, build_optimizer, set_lr
from .prune import Pruner, measured_sparsity, prunable_weights

EXIT_COMPLETED, EXIT_FAILED, EXIT_REJECTED, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EVAL_BATCH = 1000
SPARSITY_TOLERANCE = 0.005  # a measured sparsity this close to the target counts as reaching it
GPU_CHECK_EVERY = 32  # steps between non-finite loss checks on a GPU (each one waits for it)
INPUT_SIZES = {"lenet5": lenet5.INPUT_SIZE, "resnet18": resnet18.INPUT_SIZE, "mlp": mlp.INPUT_SIZE}


class Diverged(Exception):
    """The loss became NaN or infinite."""


@dataclass
class Loop:
    """The objects of one run that every step and evaluation uses."""

    cfg: TrainConfig
    device: torch.device
    ds: data.Dataset  # on the device when held there
    mean: torch.Tensor  # the training split's channel statistics, on the device
    std: torch.Tensor
    net: nn.Module  # the model's parameters (saved in checkpoints)
    model: nn.Module  # what is called: net, or its torch.compile wrapper
    optimizer: torch.optim.Optimizer
    schedule: LRSchedule
    pruner: Pruner | None
    generator: torch.Generator  # shuffling and augmentation, seeded by SEED
    steps_per_epoch: int
    loader_workers: int | None  # None: batches indexed from tensors; else DataLoader workers
    check_every: int
    channels_last: bool
    autocast: partial | type[contextlib.nullcontext]


def run(config_path: Path | str, output_dir: Path | str) -> int:
    """Train the config at `config_path`, recording into `output_dir`; returns the exit code."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = new_metrics(env.base_env(Path(config_path)))
    try:
        cfg = load_train_config(config_path)
        record["env"]["seed"] = cfg.seed
        _train(cfg, Path(config_path), out, record)
    except (ConfigError, data.DataError) as err:
        return _finish(record, out, "failed", str(err), EXIT_REJECTED)
    except Diverged as err:
        return _finish(record, out, "diverged", str(err), EXIT_DIVERGED)
    except KeyboardInterrupt:
        return _finish(record, out, "interrupted", "interrupted by the user (SIGINT)", EXIT_INTERRUPTED)
    except Exception as err:
        traceback.print_exc()
        return _finish(record, out, "failed", f"{type(err).__name__}: {err}", EXIT_FAILED)
    code = _finish(record, out, "completed", None, EXIT_COMPLETED)
    (out / LAST_EPOCH_FILE).unlink(missing_ok=True)  # a completed run is never started again
    return code


def _finish(record: dict, out: Path, status: str, error: str | None, code: int) -> int:
    record["status"], record["error"] = status, error
    write_json_atomic(out / METRICS_FILE, record)
    if error:
        print(f"error: {' '.join(error.split())}", file=sys.stderr, flush=True)
    print(f"status {status}", flush=True)
    return code


def _train(cfg: TrainConfig, config_path: Path, out: Path, record: dict) -> None:
    env.seed_everything(cfg.seed)
    threads = env.set_threads(cfg.cpu_threads)
    device = env.resolve_device(cfg.device)
    record["env"].update(env.device_env(device, threads))
    record["env"]["threads_from"] = env.threads_source(cfg.cpu_threads)
    ds = data.load_dataset(cfg.dataset, cfg.data_dir, cfg.val_fraction, INPUT_SIZES[cfg.model])
    # The analysis knows what one example is worth: 100 / val points of val_acc.
    record["env"]["split_sizes"] = {"train": len(ds.train), "val": len(ds.val), "test": len(ds.test)}
    steps = data.steps_per_epoch(len(ds.train), cfg.batch_size)
    problems = check_schedule(cfg, steps)  # again: the data on disk may differ from the known sizes
    if problems:
        raise ConfigError(f"{cfg.dataset} in {cfg.data_dir}: " + "; ".join(problems))
    loop = _setup(cfg, device, ds, steps)
    print(
        f"run model {cfg.model} dataset {cfg.dataset} optimizer {cfg.optimizer} pruning {cfg.pruning} "
        f"device {device} threads {threads} train {len(ds.train)} val {len(ds.val)} test {len(ds.test)} "
        f"steps_per_epoch {steps}",
        flush=True,
    )
    key = resume.RunKey.of(config_path.read_text(encoding="utf-8"), cfg, threads)
    progress = resume.load(out / LAST_EPOCH_FILE, loop, key) or resume.Progress()
    kept = _train_epochs(loop, out, record, key, progress)
    _test_final_model(loop, out, record, kept)


def _train_epochs(
    loop: Loop, out: Path, record: dict, key: resume.RunKey, progress: resume.Progress
) -> dict | None:
    """Epochs after those in `progress` to the last, recording each; returns best_model.pt's row."""
    cfg = loop.cfg
    record["epochs"] = progress.epochs  # the runner removed training_metrics.json: history from here
    kept = record["epochs"][progress.kept_epoch - 1] if progress.kept_epoch else None
    started = time.perf_counter() - progress.train_seconds
    record["final"] = (  # every key present, even if epoch 1 diverges
        _running_final(record["epochs"][-1], started, kept) if record["epochs"] else dict.fromkeys(FINAL_KEYS)
    )
    write_json_atomic(out / METRICS_FILE, record)  # `running` from the start, for monitors
    judged = verdict.wanted()  # a stopper judges each epoch before the next (deterministic pruning)
    for epoch in range(len(record["epochs"]) + 1, cfg.epochs + 1):
        if judged and epoch > 1 and not verdict.wait(out, epoch - 1):
            print(f"no verdict on epoch {epoch - 1} from the runner; training on without", flush=True)
            judged = False
        pause_point(f"epoch-{epoch}")  # KSWEEP_PAUSE_AT=epoch-6: a test kills the run in epoch 6
        row = _epoch(loop, epoch)
        record["epochs"].append(row)
        record["final"] = _running_final(row, started, kept)
        print(_epoch_line(row, cfg.epochs), flush=True)
        if cfg.save_checkpoint and _may_keep(cfg, row) and (kept is None or row["val_acc"] > kept["val_acc"]):
            _save_checkpoint(loop, out / CHECKPOINT_FILE, row, record)
            kept = row
            record["final"].update(_checkpoint_keys(kept))
        if cfg.save_checkpoint and cfg.keep_checkpoints:
            _keep_recent(loop, RunPaths(out), row, record)
        # Before the record, so a record of N epochs means last_epoch.pt holds epoch N or later.
        progress.kept_epoch = kept["epoch"] if kept else None
        progress.train_seconds = record["final"]["train_seconds"]
        resume.save(out / LAST_EPOCH_FILE, loop, key, progress)
        write_json_atomic(out / METRICS_FILE, record)
    return kept


def _test_final_model(loop: Loop, out: Path, record: dict, kept: dict | None) -> None:
    """Score the last epoch's model on the test split (and best_model.pt's, when it is another)."""
    row = record["epochs"][-1]
    if loop.cfg.save_checkpoint and kept is None:  # no epoch reached the target sparsity: keep the last
        _save_checkpoint(loop, out / CHECKPOINT_FILE, row, record)
        kept = row
    final = record["final"]
    final["test_acc"] = evaluate(loop, loop.ds.test)[1]  # the final model, as val_acc and sparsity
    final.update(_checkpoint_keys(kept))
    if kept is not None:
        final["checkpoint_test_acc"] = (
            final["test_acc"] if kept is row else _checkpoint_test_acc(loop, out / CHECKPOINT_FILE)
        )
    print(
        f"final val_acc {final['val_acc']:.2f} val_loss {final['val_loss']:.4f} test_acc "
        f"{_fmt(final['test_acc'], '.2f')} sparsity {final['sparsity']:.3f} "
        f"train_seconds {final['train_seconds']:.2f}"
        + (f" checkpoint_epoch {kept['epoch']} checkpoint_sparsity {kept['sparsity']:.3f}" if kept else ""),
        flush=True,
    )


def _running_final(row: dict, started: float, kept: dict | None) -> dict:
    """The final block while the run trains: the last epoch's model, not yet tested."""
    return {
        "val_acc": row["val_acc"],
        "val_loss": row["val_loss"],
        "test_acc": None,
        "sparsity": row["sparsity"],
        "train_seconds": time.perf_counter() - started,
        **_checkpoint_keys(kept),
    }


def _may_keep(cfg: TrainConfig, row: dict) -> bool:
    """Whether this epoch's model may be best_model.pt: with a sparsity target, only once the
    measured sparsity has reached it (a dense pre-pruning epoch is not the pruned model)."""
    return cfg.pruning == "none" or row["sparsity"] >= cfg.target_sparsity - SPARSITY_TOLERANCE


def _checkpoint_keys(kept: dict | None) -> dict:
    """What best_model.pt holds, in the final block (None before a checkpoint exists)."""
    if kept is None:
        return {}
    return {
        "checkpoint_epoch": kept["epoch"],
        "checkpoint_val_acc": kept["val_acc"],
        "checkpoint_sparsity": kept["sparsity"],
    }


def _checkpoint_test_acc(loop: Loop, path: Path) -> float | None:
    loop.net.load_state_dict(torch.load(path, map_location=loop.device, weights_only=False)["model"])
    return evaluate(loop, loop.ds.test)[1]


def _epoch(loop: Loop, epoch: int) -> dict:
    started = time.perf_counter()
    train_loss, train_acc, lr = train_epoch(loop, epoch)
    val_loss, val_acc = evaluate(loop, loop.ds.val)
    loop.schedule.end_epoch(val_loss)
    sparsity = measured_sparsity(prunable_weights(loop.net))
    return {
        "epoch": epoch,
        "train_loss": train_loss,
        "train_acc": train_acc,
        "val_loss": val_loss,
        "val_acc": val_acc,
        "lr": lr,
        "sparsity": sparsity,
        "seconds": time.perf_counter() - started,
    }


def _epoch_line(row: dict, epochs: int) -> str:
    return (
        f"epoch {row['epoch']}/{epochs} train_loss {row['train_loss']:.4f} train_acc {row['train_acc']:.2f} "
        f"val_loss {row['val_loss']:.4f} val_acc {row['val_acc']:.2f} lr {row['lr']:.6g} "
        f"sparsity {row['sparsity']:.3f} time {row['seconds']:.2f}s"
    )


def _fmt(value: float | None, spec: str) -> str:
    return "null" if value is None else format(value, spec)


def _setup(cfg: TrainConfig, device: torch.device, ds: data.Dataset, steps: int) -> Loop:
    cuda = device.type == "cuda"
    nbytes = sum(s.x.nbytes + s.y.nbytes for s in (ds.train, ds.val, ds.test))
    resident = not cuda or (cfg.data_on_device and env.fits_on_device(nbytes, device))
    torch.manual_seed(cfg.seed)  # the model's initial weights
    net = build_model(cfg, ds.channels, ds.size, ds.num_classes).to(device)
    channels_last = cuda and cfg.channels_last and cfg.model != "mlp"
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return Loop(
        cfg=cfg,
        device=device,
        ds=ds.to(device) if resident else ds,
        mean=ds.mean.to(device),
        std=ds.std.to(device),
        net=net,
        model=torch.compile(net) if cfg.compile else net,
        optimizer=build_optimizer(cfg, net.parameters()),
        schedule=LRSchedule.from_config(cfg, steps),
        pruner=Pruner.from_config(cfg, net, steps),
        generator=torch.Generator().manual_seed(cfg.seed),
        steps_per_epoch=steps,
        loader_workers=None if resident else cfg.num_workers,
        check_every=GPU_CHECK_EVERY if cuda else 1,  # on the CPU a check costs nothing
        channels_last=channels_last,
        autocast=partial(torch.autocast, "cuda", dtype=torch.bfloat16)
        if cuda and cfg.bf16
        else contextlib.nullcontext,
    )


def build_model(cfg: TrainConfig, channels: int, size: int, num_classes: int) -> nn.Module:
    if cfg.model == "lenet5":
        return lenet5.LeNet5(channels, num_classes)
    if cfg.model == "resnet18":
        return resnet18.resnet18(channels, num_classes)
    return mlp.MLP(channels * size * size, num_classes, cfg.mlp_hidden_size, cfg.mlp_num_layers)


def _inputs(loop: Loop, x: torch.Tensor, y: torch.Tensor, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """A uint8 batch from `data.batches` as the model's float input, on the device."""
    if x.device != loop.device:
        x, y = x.to(loop.device, non_blocking=True), y.to(loop.device, non_blocking=True)
    if train and loop.cfg.dataset == "cifar10":
        x = data.augment_crop_flip(x, loop.generator)
    x = data.normalize(x, loop.mean, loop.std)
    return (x.contiguous(memory_format=torch.channels_last) if loop.channels_last else x), y


def train_epoch(loop: Loop, epoch: int) -> tuple[float, float, float]:
    """One pass over the training split: (mean loss, accuracy %, last learning rate)."""
    loop.model.train()
    step0 = (epoch - 1) * loop.steps_per_epoch
    losses = torch.zeros(loop.steps_per_epoch, device=loop.device)
    correct = torch.zeros((), dtype=torch.int64, device=loop.device)
    seen, lr = 0, loop.schedule.lr(step0)
    batches = data.batches(loop.ds.train, loop.cfg.batch_size, loop.generator, loop.loader_workers)
    for i, (x, y) in enumerate(batches):
        x, y = _inputs(loop, x, y, train=True)
        lr = loop.schedule.lr(step0 + i)
        set_lr(loop.optimizer, lr)
        with loop.autocast():
            logits = loop.model(x)
            loss = F.cross_entropy(logits, y)
        loop.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        loop.optimizer.step()
        if loop.pruner is not None:
            loop.pruner.after_step(step0 + i + 1, loop.optimizer)
        losses[i] = loss.detach()
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
        if (i + 1) % loop.check_every == 0:
            _check_finite(losses[: i + 1], epoch, step0)
    _check_finite(losses, epoch, step0)
    return losses.mean().item(), 100.0 * correct.item() / seen, lr


def _check_finite(losses: torch.Tensor, epoch: int, step0: int) -> None:
    finite = torch.isfinite(losses)
    if not bool(finite.all()):
        i = int((~finite).nonzero()[0])
        raise Diverged(
            f"non-finite loss ({losses[i].item()}) at epoch {epoch}, step {step0 + i + 1} of the run"
        )


@torch.inference_mode()
def evaluate(loop: Loop, split: data.Split) -> tuple[float | None, float | None]:
    """(mean loss, accuracy %) of the model on `split`; (None, None) for an empty split."""
    if len(split) == 0:
        return None, None
    loop.model.eval()
    total = torch.zeros((), device=loop.device)
    correct = torch.zeros((), dtype=torch.int64, device=loop.device)
    for x, y in data.batches(split, EVAL_BATCH):
        x, y = _inputs(loop, x, y, train=False)
        with loop.autocast():
            logits = loop.model(x)
        total += F.cross_entropy(logits.float(), y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
    return total.item() / len(split), 100.0 * correct.item() / len(split)


def _save_checkpoint(loop: Loop, path: Path, row: dict, record: dict) -> None:
    """The model with what says which it is: epoch, that epoch's metrics, the config and its hash."""
    state = {"model": loop.net.state_dict(), "epoch": row["epoch"], "val_acc": row["val_acc"], "metrics": row}
    state.update(config=vars(loop.cfg), config_hash=(record.get("env") or {}).get("config_hash"))
    resume.save_atomic(state, path)  # a crash mid-save keeps the previous one


def _keep_recent(loop: Loop, paths: RunPaths, row: dict, record: dict) -> None:
    """This epoch's model as checkpoint_epoch_NNN.pt; only the last KEEP_CHECKPOINTS stay."""
    _save_checkpoint(loop, paths.epoch_checkpoint(row["epoch"]), row, record)
    for old in paths.epoch_checkpoints()[: -loop.cfg.keep_checkpoints]:
        old.unlink(missing_ok=True)


def warmup() -> None:
    """Pay a run's one-time costs (lazy imports, first calls of each kernel, the digits data) now,
    in a fork server before it forks, so each forked run starts at once.

    CPU only and single-threaded: CUDA is never touched (children still choose their GPU),
    and GNU OpenMP's thread pool does not survive fork, so a child whose parent had started
    it hangs at its first parallel op. Do not train in the server process itself.
    """
    base = default_config()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for model in ("lenet5", "mlp"):
            ds = data.load_dataset("digits", base.data_dir, base.val_fraction, INPUT_SIZES[model])
            tiny = replace(
                ds,
                train=data.Split(ds.train.x[:16], ds.train.y[:16]),
                val=data.Split(ds.val.x[:8], ds.val.y[:8]),
            )
            for optimizer in ("sgd", "adam", "adamw", "adamwprune"):
                _warmup_step(base, model, optimizer, tiny)
    finally:
        torch.set_num_threads(threads)  # only a count: no thread starts until a parallel op runs


def _warmup_step(base: TrainConfig, model: str, optimizer: str, ds: data.Dataset) -> None:
    pruning = "magnitude" if optimizer == "sgd" else "state"
    cfg = replace(
        base,
        model=model,
        optimizer=optimizer,
        momentum=0.9,
        batch_size=8,
        pruning=pruning,
        target_sparsity=0.5,
        pruning_warmup=0,
        ramp_end_epoch=1,
        pruning_frequency=1,
    )
    loop = _setup(cfg, torch.device("cpu"), ds, data.steps_per_epoch(len(ds.train), cfg.batch_size))
    train_epoch(loop, 1)
    evaluate(loop, ds.val)
    measured_sparsity(prunable_weights(loop.net))
    key = resume.RunKey.of("", cfg, 1)
    with tempfile.TemporaryDirectory() as tmp:  # last_epoch.pt's first save costs more than the next
        resume.save(Path(tmp) / LAST_EPOCH_FILE, loop, key, resume.Progress([{"epoch": 1}]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.train",
        description="Train one ksweep config, recording training_metrics.json after every epoch.",
        epilog="exit codes: 0 completed, 1 failed, 2 config or data refused, 3 diverged, 130 interrupted. "
        "environment: KSWEEP_THREADS, KSWEEP_GIT_COMMIT.",
    )
    parser.add_argument(
        "--config", required=True, help="the run's .config (symbols it omits take their defaults)"
    )
    parser.add_argument(
        "--output-dir", required=True, help="where training_metrics.json goes (created if missing)"
    )
    args = parser.parse_args(argv)
    return run(args.config, args.output_dir)


if __name__ == "__main__":
    sys.exit(main())
