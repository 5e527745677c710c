"""What the trainer's bookkeeping costs: LeNet-5 on digits through run() against a bare PyTorch loop.

    .venv/bin/python bench/bench_trainer.py [--epochs 5] [--repeats 5] [--busy-epochs 8] [--busy-repeats 3]

Both sides do the same work in this one process, after models.train.warmup(): LeNet-5
from the same seed, the same digits tensors (models.data), batch 64, AdamW lr 0.001,
the validation split evaluated after every epoch and the test split at the end, with
the same thread count. The bare loop is what one would write by hand (inputs normalised
once up front, no records); run() adds reading the config, a metrics JSON per epoch,
the measured sparsity, the per-step loss buffer and divergence checks, the epoch lines.
It prints seconds per epoch for each (the best of --repeats) and their ratio; the target
is a ratio of at most 1.15. Figures only, nothing is asserted.

Then what the end-of-epoch resume checkpoint (last_epoch.pt, models/resume.py) costs on
its own, part of run()'s figure above: one save after a trained epoch, for the MLP the
runner benchmark's 1-epoch runs use and for LeNet-5 with AdamW (the default config),
the median and best of 20 saves, and the file's size.

Then a CPU run beside competing load, as on a shared workstation or a cluster node: a
one-config LeNet-5/digits sweep through the runner (JOBS=1, so 2 threads on 2 cores),
idle, beside 4 pure-Python busy loops, and beside 2 torch processes running 2-thread
matmuls; each repeated, the worst repetition's median epoch time against idle's (target:
within 4x), with ksweep's default (GOMP_SPINCOUNT=10000: a short spin, then sleep) and
with GNU OpenMP's own (a 300,000-round spin: what runs had before), against the idle
time of that same setting and of ksweep's.

With CUDA it also times one epoch of ResNet-18 on CIFAR-10-shaped random data (uint8,
10,000 images, batch 128): the whole set held on the GPU and batched by index, as the
trainer does with DATA_ON_DEVICE=y, against a plain DataLoader loop (4 workers, pinned
memory, per-batch copies). Without CUDA it says it skipped, in one line.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from ksweep.contract.records import read_metrics  # noqa: E402
from models import data, lenet5, resnet18, resume, train  # noqa: E402
from models.config import default_config  # noqa: E402


def trainer_seconds(epochs: int) -> tuple[float, float]:
    """(wall seconds of one run() of the default LeNet-5 config, its final val_acc)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config"
        config.write_text(f"CONFIG_NUM_EPOCHS={epochs}\n", encoding="utf-8")
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = train.run(config, Path(tmp) / "run")
        seconds = time.perf_counter() - started
        metrics = read_metrics(Path(tmp) / "run")
    assert code == 0, f"run() exited {code}"
    return seconds, metrics["final"]["val_acc"]


def bare_seconds(epochs: int) -> tuple[float, float]:
    """(wall seconds of the same training written as a bare loop, its final val_acc)."""
    cfg = default_config()
    started = time.perf_counter()
    torch.set_num_threads(os.cpu_count() or 1)
    ds = data.load_dataset("digits", cfg.data_dir, cfg.val_fraction, lenet5.INPUT_SIZE)
    train_x, val_x, test_x = (data.normalize(s.x, ds.mean, ds.std) for s in (ds.train, ds.val, ds.test))
    torch.manual_seed(cfg.seed)
    model = lenet5.LeNet5(1, 10)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    generator = torch.Generator().manual_seed(cfg.seed)
    n, bs = len(ds.train), cfg.batch_size
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        for i in range(n // bs):
            idx = order[i * bs : (i + 1) * bs]
            loss = F.cross_entropy(model(train_x[idx]), ds.train.y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        val_acc = accuracy(model, val_x, ds.val.y)
    accuracy(model, test_x, ds.test.y)
    return time.perf_counter() - started, val_acc


@torch.inference_mode()
def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    logits = model(x)
    F.cross_entropy(logits, y).item()  # the trainer reports the loss too
    return 100.0 * (logits.argmax(1) == y).float().mean().item()


def bench_cpu(epochs: int, repeats: int) -> None:
    runs = {"trainer": [], "bare": []}
    for _ in range(repeats):  # interleaved, so both see the same machine load
        runs["trainer"].append(trainer_seconds(epochs))
        runs["bare"].append(bare_seconds(epochs))
    best = {name: min(seconds for seconds, _ in results) for name, results in runs.items()}
    for name, results in runs.items():
        print(
            f"{name:8s} {best[name] / epochs:.4f} s/epoch (best of {repeats}: {best[name]:.3f} s "
            f"for {epochs} epochs) val_acc {results[-1][1]:.2f}"
        )
    print(f"ratio    trainer/bare {best['trainer'] / best['bare']:.3f} (target <= 1.15)")


def bench_checkpoint(saves: int = 20) -> None:
    base = default_config()
    for model, label in (("mlp", "MLP 2x128, AdamW"), ("lenet5", "LeNet-5, AdamW")):
        cfg = dataclasses.replace(base, model=model, optimizer="adamw", mlp_hidden_size=128, mlp_num_layers=2)
        ds = data.load_dataset("digits", cfg.data_dir, cfg.val_fraction, train.INPUT_SIZES[model])
        loop = train._setup(cfg, torch.device("cpu"), ds, data.steps_per_epoch(len(ds.train), cfg.batch_size))
        train.train_epoch(loop, 1)
        key = resume.RunKey.of("", cfg, torch.get_num_threads())
        progress = resume.Progress([{"epoch": 1}])
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "last_epoch.pt"
            times = []
            for _ in range(saves):
                started = time.perf_counter()
                resume.save(path, loop, key, progress)
                times.append(time.perf_counter() - started)
            size = path.stat().st_size
        times.sort()
        print(
            f"resume   last_epoch.pt of {label} ({size / 1e6:.2f} MB): save {times[saves // 2] * 1e3:.1f} ms "
            f"per epoch (median of {saves}; best {times[0] * 1e3:.1f} ms)"
        )


BUSY_LOOP = "while True: pass"
TORCH_LOAD = "import torch; torch.set_num_threads(2); a = torch.randn(600, 600)\nwhile True: a @ a"


def sweep_epoch_seconds(epochs: int, env: dict[str, str]) -> float:
    """The median epoch seconds of a one-config LeNet-5 sweep run through the runner."""
    with tempfile.TemporaryDirectory() as tmp:
        configs = Path(tmp) / "sweep_configs"
        configs.mkdir()
        (configs / "config_001").write_text(f"CONFIG_NUM_EPOCHS={epochs}\n", encoding="utf-8")
        runner = [sys.executable, str(ROOT / "scripts/run_test_matrix.py"), "--no-progress", "--jobs", "1"]
        command = [*runner, "--config-dir", str(configs), "--output-dir", str(Path(tmp) / "results")]
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, **env})
        (record,) = (Path(tmp) / "results").glob("sweep_*/config_001*/training_metrics.json")
        return statistics.median(e["seconds"] for e in read_metrics(record.parent)["epochs"])


def bench_busy(epochs: int, repeats: int) -> None:
    loads = {"idle": [], "4 busy loops": [BUSY_LOOP] * 4, "2 torch processes": [TORCH_LOAD] * 2}
    base = None
    for policy, env in (("ksweep's", {}), ("libgomp's", {"GOMP_SPINCOUNT": "300000"})):
        idle = None
        for name, programs in loads.items():
            competing = [subprocess.Popen([sys.executable, "-c", code]) for code in programs]
            try:
                times = [sweep_epoch_seconds(epochs, env) for _ in range(repeats)]
            finally:
                for process in competing:
                    process.kill()
                    process.wait()
            idle = idle or statistics.median(times)
            base = base or idle
            worst = max(times)
            print(
                f"busy     {policy} wait {name:18s} worst of {repeats}: {worst:.3f} s/epoch, "
                f"{worst / idle:.1f}x its idle {idle:.3f}, {worst / base:.1f}x ksweep's idle"
                + ("  (target <= 4x)" if not env else "")
            )


def bench_gpu() -> None:
    if not torch.cuda.is_available():
        print("gpu      skipped: no CUDA device")
        return
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    n, bs = 10000, 128
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)
    y = torch.randint(0, 10, (n,))
    mean, std = torch.full((3,), 0.5, device=device), torch.full((3,), 0.25, device=device)
    resident = data.Split(x.to(device), y.to(device))
    loader = DataLoader(
        TensorDataset(x, y),
        batch_size=bs,
        shuffle=True,
        drop_last=True,
        num_workers=4,
        pin_memory=True,
        persistent_workers=True,
    )
    model = resnet18.resnet18(3, 10).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step(xb: torch.Tensor, yb: torch.Tensor) -> None:
        loss = F.cross_entropy(model(data.normalize(xb, mean, std)), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def on_device() -> None:
        for xb, yb in data.batches(resident, bs, torch.Generator().manual_seed(0)):
            step(xb, yb)

    def through_loader() -> None:
        for xb, yb in loader:
            step(xb.to(device, non_blocking=True), yb.to(device, non_blocking=True))

    times = {}
    for name, epoch in (("on_device", on_device), ("loader", through_loader)):
        epoch()  # warm: cuDNN autotuning, worker start-up
        torch.cuda.synchronize()
        started = time.perf_counter()
        epoch()
        torch.cuda.synchronize()
        times[name] = time.perf_counter() - started
    print(f"gpu      {torch.cuda.get_device_name(device)}: ResNet-18, {n} CIFAR-shaped images, batch {bs}")
    print(
        f"gpu      on_device {times['on_device']:.3f} s/epoch, DataLoader {times['loader']:.3f} s/epoch, "
        f"ratio on_device/loader {times['on_device'] / times['loader']:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--busy-epochs", type=int, default=8, help="epochs of each run beside the load")
    parser.add_argument("--busy-repeats", type=int, default=3, help="runs per load and wait policy")
    parser.add_argument("--quick", action="store_true", help="1 epoch, 1 repeat: proves it runs")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.repeats, args.busy_epochs, args.busy_repeats = 1, 1, 2, 1
    started = time.perf_counter()
    train.warmup()
    print(f"warmup   {time.perf_counter() - started:.2f} s (imports were paid before it)")
    bench_cpu(args.epochs, args.repeats)
    bench_checkpoint()
    bench_busy(args.busy_epochs, args.busy_repeats)
    bench_gpu()


if __name__ == "__main__":
    main()
