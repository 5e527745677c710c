"""How many images each dataset split holds and how many optimizer steps an epoch takes,
known without loading any data or importing torch.

    steps_per_epoch(train_size("cifar10", 0.1), 128)    # 351: 45,000 training images / 128

The trainer's config checks (models.config) need step counts to refuse a pruning
warmup beyond the run's last step; the generator and the runner run the same checks
before anything trains, and they must stay torch-free (design rule 1). models.data
splits the real data with these same functions, so the two never disagree.
"""

from __future__ import annotations

from pathlib import Path

DIGITS_SIZE = 1797
DIGITS_TEST_FRACTION = 0.15
DIGITS_TEST_SIZE = round(DIGITS_SIZE * DIGITS_TEST_FRACTION)
# Training images before validation is carved out.
TRAIN_POOL_SIZES = {"digits": DIGITS_SIZE - DIGITS_TEST_SIZE, "mnist": 60000, "cifar10": 50000}


# The files each downloadable dataset is read from, in torchvision's layout under DATA_DIR.
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")
CIFAR10_DIR = "cifar-10-batches-py"
NAMES = {"mnist": "MNIST", "cifar10": "CIFAR-10"}


def missing_files(dataset: str, data_dir: Path) -> str | None:
    """Where `dataset` should be under `data_dir` when it is not all there (the trainer then
    downloads it); None when it is, or for the embedded digits."""
    if dataset == "mnist":
        raw = data_dir / "MNIST" / "raw"
        present = all((raw / f).is_file() or (raw / f"{f}.gz").is_file() for f in MNIST_FILES)
        return None if present else f"{raw}/"
    if dataset == "cifar10":
        root = data_dir / CIFAR10_DIR
        return None if all((root / f).is_file() for f in CIFAR10_FILES) else f"{root}/"
    return None


def split_sizes(pool: int, val_fraction: float) -> tuple[int, int]:
    """(train, val) sizes when `val_fraction` of `pool` training images is held out; both >= 1."""
    n_val = min(max(round(pool * val_fraction), 1), pool - 1)
    return pool - n_val, n_val


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimizer steps per epoch: full batches only (a last partial batch is dropped, and a
    batch of one would break BatchNorm), or one batch of everything when it is smaller."""
    return max(1, n_train // batch_size)


def train_size(dataset: str, val_fraction: float) -> int:
    """Training images of `dataset` (digits, mnist, cifar10) after validation is held out."""
    return split_sizes(TRAIN_POOL_SIZES[dataset], val_fraction)[0]
