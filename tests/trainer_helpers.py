"""Shared helpers of the trainer tests: config files, tiny MNIST / CIFAR-10 on disk, trainer runs.

Tiny datasets are written in the real on-disk formats torchvision leaves behind (IDX files
under DATA_DIR/MNIST/raw, pickled batches under DATA_DIR/cifar-10-batches-py), with a
class-dependent pattern so one epoch has something to learn.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# Any download attempt fails at once, with or without a network: the tests stay offline.
OFFLINE_ENV = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}

SEED_GUIDE = {  # the seed guide's resnet18 state-pruning range file, one combination of it
    "MODEL_MODE_SINGLE": True,
    "MODEL_SELECT_RESNET18": True,
    "DATASET_SELECT_CIFAR10": True,
    "OPTIMIZER_SELECT_ADAMWPRUNE": True,
    "PRUNING_METHOD": '"state"',
    "TARGET_SPARSITY": 0.7,
    "ADAMWPRUNE_WEIGHT_DECAY": 0.05,
    "ADAMWPRUNE_BETA1": 0.87,
    "PRUNING_WARMUP": 7800,
    "PRUNING_RAMP_END_EPOCH": 70,
    "NUM_EPOCHS": 1,
}


def write_config(path: Path, **symbols) -> Path:
    """A .config with CONFIG_<name>=<value> per keyword: True is y, False `is not set`,
    str is quoted unless it starts with a quote already, numbers are written as they are."""
    lines = []
    for name, value in symbols.items():
        if value is True:
            lines.append(f"CONFIG_{name}=y")
        elif value is False:
            lines.append(f"# CONFIG_{name} is not set")
        elif isinstance(value, str) and not value.startswith('"'):
            lines.append(f'CONFIG_{name}="{value}"')
        else:
            lines.append(f"CONFIG_{name}={value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_cli(config: Path, output_dir: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m models.train` as the runner starts it, from the project root."""
    return subprocess.run(
        [sys.executable, "-m", "models.train", "--config", str(config), "--output-dir", str(output_dir)],
        cwd=ROOT,
        env={**os.environ, **OFFLINE_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_quiet(config: Path, output_dir: Path) -> tuple[int, str, str]:
    """models.train.run() in this process: (exit code, stdout, stderr)."""
    from models.train import run

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(config, output_dir)
    return code, out.getvalue(), err.getvalue()


def read_metrics(output_dir: Path) -> dict:
    """training_metrics.json, refusing NaN / Infinity (which are not JSON)."""

    def refuse(constant: str):
        raise AssertionError(f"{constant} in training_metrics.json")

    text = (output_dir / "training_metrics.json").read_text(encoding="utf-8")
    return json.loads(text, parse_constant=refuse)


def final_without_time(metrics: dict) -> dict:
    return {k: v for k, v in metrics["final"].items() if k != "train_seconds"}


def _patterned_images(n: int, channels: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = rng.integers(0, 60, size=(n, channels, size, size), dtype=np.uint8)
    for i, label in enumerate(labels):
        row = (label * size) // 10
        images[i, :, row : row + max(1, size // 10), :] = 255  # a bright band whose height says the class
    return images, labels.astype(np.uint8)


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_tiny_mnist(data_dir: Path, n_train: int = 200, n_test: int = 50, gz: bool = True) -> Path:
    """DATA_DIR/MNIST/raw/*-ubyte[.gz] as torchvision leaves them, with `n_*` 28x28 images."""
    raw = data_dir / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
        images, labels = _patterned_images(n, 1, 28, seed)
        for name, array in (
            (f"{prefix}-images-idx3-ubyte", images[:, 0]),
            (f"{prefix}-labels-idx1-ubyte", labels),
        ):
            blob = _idx_bytes(array)
            if gz:
                (raw / f"{name}.gz").write_bytes(gzip.compress(blob))
            else:
                (raw / name).write_bytes(blob)
    return data_dir


def write_tiny_cifar10(data_dir: Path, n_train: int = 250, n_test: int = 50) -> Path:
    """DATA_DIR/cifar-10-batches-py as torchvision leaves it: five training batches, a test
    batch and batches.meta, each a pickled dict with data (N x 3072 uint8) and labels."""
    root = data_dir / "cifar-10-batches-py"
    root.mkdir(parents=True, exist_ok=True)
    images, labels = _patterned_images(n_train, 3, 32, 3)
    per_batch = math.ceil(n_train / 5)
    for i in range(5):
        part = slice(i * per_batch, (i + 1) * per_batch)
        _pickle(root / f"data_batch_{i + 1}", images[part], labels[part], f"training batch {i + 1} of 5")
    test_images, test_labels = _patterned_images(n_test, 3, 32, 4)
    _pickle(root / "test_batch", test_images, test_labels, "testing batch 1 of 1")
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(root / "batches.meta", "wb") as handle:
        pickle.dump(
            {"label_names": names, "num_cases_per_batch": per_batch, "num_vis": 3072}, handle, protocol=2
        )
    return data_dir


def _pickle(path: Path, images: np.ndarray, labels: np.ndarray, title: str) -> None:
    batch = {
        "batch_label": title,
        "labels": [int(label) for label in labels],
        "data": images.reshape(len(images), -1),
        "filenames": [f"img_{i}.png" for i in range(len(images))],
    }
    with open(path, "wb") as handle:
        pickle.dump(batch, handle, protocol=2)
