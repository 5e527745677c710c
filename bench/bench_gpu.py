"""The GPU path in figures, for `make gpu-check`: one table, each row measured in this run.

    .venv/bin/python bench/bench_gpu.py [--quick]

- LeNet-5 on digits and ResNet-18 on CIFAR-10-shaped data (a generated set in the real
  on-disk format, since nothing can be downloaded): seconds per epoch through the built-in
  trainer on the GPU and on the CPU (its median epoch), and their ratio.
- A sweep of 8 small runs (MLP on digits) through the runner at JOBS_PER_GPU=1 and at 4:
  runs per minute, and each run's peak GPU memory as the runner's telemetry recorded it
  (summary `gpu_mem_peak_mb`) against the most `nvidia-smi` saw that run's process hold.
Without CUDA it says so in one line and exits 0: nothing to measure.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNNER = [sys.executable, str(ROOT / "scripts/run_test_matrix.py"), "--no-progress"]


def cuda_device() -> str | None:
    probe = "import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
    name = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip()
    return name or None


def write_cifar10(data_dir: Path, n_train: int, n_test: int) -> None:
    """DATA_DIR/cifar-10-batches-py as torchvision leaves it, with random images."""
    import numpy as np

    root = data_dir / "cifar-10-batches-py"
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    per_batch = n_train // 5
    for name, count in [*((f"data_batch_{i}", per_batch) for i in range(1, 6)), ("test_batch", n_test)]:
        batch = {
            "data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
            "labels": list(rng.integers(0, 10, count)),
        }
        (root / name).write_bytes(pickle.dumps(batch))
    (root / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"class{i}" for i in range(10)]}))


def epoch_seconds(symbols: str, device: str, epochs: int, tmp: Path) -> float:
    """The median epoch (after the first, which pays the warm-up) of the built-in trainer."""
    config = tmp / f"config_{device}"
    config.write_text(symbols + f'CONFIG_DEVICE="{device}"\nCONFIG_NUM_EPOCHS={epochs}\n', encoding="utf-8")
    out = tmp / f"out_{device}_{time.monotonic_ns()}"
    command = [sys.executable, "-m", "models.train", "--config", str(config), "--output-dir", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    epochs = json.loads((out / "training_metrics.json").read_text())["epochs"]
    return statistics.median(e["seconds"] for e in epochs[1:] or epochs)  # the first pays warm-up


def model_rows(quick: bool, tmp: Path) -> list[tuple[str, str]]:
    write_cifar10(tmp / "data", 1000 if quick else 5000, 500)
    cifar = f'CONFIG_DATASET_SELECT_CIFAR10=y\nCONFIG_DATA_DIR="{tmp / "data"}"\n'
    models = {
        "LeNet-5, digits": "CONFIG_MODEL_SELECT_LENET5=y\n",
        "ResNet-18, CIFAR-10-shaped": "CONFIG_MODEL_SELECT_RESNET18=y\n" + cifar,
    }
    rows = []
    for name, symbols in models.items():
        gpu, cpu = epoch_seconds(symbols, "cuda", 4, tmp), epoch_seconds(symbols, "cpu", 2, tmp)
        rows.append((f"{name}: s/epoch GPU vs CPU", f"{gpu:.3f} vs {cpu:.3f} ({cpu / gpu:.1f}x faster)"))
    return rows


class SmiSampler(threading.Thread):
    """The most memory nvidia-smi saw each process hold (MiB), sampled every 0.2 s."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        query = ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"]
        while not self.done.wait(0.2):
            out = subprocess.run(query, capture_output=True, text=True).stdout
            for line in out.splitlines():
                pid, used = (part.strip() for part in line.split(","))
                if pid.isdigit() and used.replace(".", "").isdigit():
                    self.peak[int(pid)] = max(self.peak.get(int(pid), 0.0), float(used))


def sweep_row(jobs_per_gpu: int, runs: int, tmp: Path) -> tuple[str, str]:
    configs, results = tmp / f"configs_{jobs_per_gpu}", tmp / f"results_{jobs_per_gpu}"
    configs.mkdir()
    for seed in range(1, runs + 1):
        (configs / f"config_{seed:03d}").write_text(
            f"CONFIG_MODEL_SELECT_MLP=y\nCONFIG_NUM_EPOCHS=3\nCONFIG_SEED={seed}\n"
        )
    sampler = SmiSampler()
    sampler.start()
    started = time.perf_counter()
    command = [
        *RUNNER,
        "--config-dir",
        str(configs),
        "--output-dir",
        str(results),
        "--jobs-per-gpu",
        str(jobs_per_gpu),
    ]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    wall = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    (summary,) = results.glob("sweep_*/sweep_summary.json")
    rows = json.loads(summary.read_text())
    ours = [r.get("gpu_mem_peak_mb") for r in rows if r.get("gpu_mem_peak_mb")]
    smi = max(sampler.peak.values(), default=0.0)
    telemetry = f"{statistics.median(ours):.0f} MiB median, {max(ours):.0f} max" if ours else "none recorded"
    return (
        f"sweep of {runs} MLP runs, JOBS_PER_GPU={jobs_per_gpu}",
        f"{runs / wall * 60:.1f} runs/min; peak per run: telemetry {telemetry}, nvidia-smi {smi:.0f} MiB max",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and epochs: proves it runs")
    args = parser.parse_args()
    device = cuda_device()
    if device is None:
        print("gpu      skipped: no CUDA device (make gpu-check measures on a GPU machine)")
        return
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        rows = model_rows(args.quick, Path(tmp))
        rows += [sweep_row(k, 8, Path(tmp)) for k in (1, 4)]
    width = max(len(what) for what, _ in rows)
    print(f"GPU check on {device}")
    for what, figure in rows:
        print(f"  {what:{width}}  {figure}")


if __name__ == "__main__":
    main()
