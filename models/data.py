"""Datasets as in-memory uint8 tensors, and the batches a training loop draws from them.

    ds = load_dataset("digits", data_dir="data", val_fraction=0.1, size=32)
    ds.train.x, ds.train.y          # uint8 [N, C, H, W] images, int64 [N] labels
    for x, y in batches(ds.train, 64, generator=g):
        logits = model(normalize(x, ds.mean, ds.std))

Three datasets, each split into train / val / test:

- digits: scikit-learn's 1,797 8x8 digits, embedded (no download). A fixed 15% is the
  test split.
- mnist: torchvision's layout, DATA_DIR/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte
  (raw or .gz).
- cifar10: torchvision's layout, DATA_DIR/cifar-10-batches-py/{data_batch_1..5,test_batch,
  batches.meta} (Python pickles).

Validation is carved from the training set with a fixed seed (SPLIT_SEED, not the run's
SEED), so every run of a sweep is ranked on the same validation images; the official
test set is the test split. Missing MNIST / CIFAR-10 files are downloaded by torchvision
into DATA_DIR; when that fails (offline) DataError names DATA_DIR and the files to put
there. The files are read here, not through torchvision's dataset classes, because
those insist on the original checksums and would refuse a hand-made subset.

Images stay uint8 (a quarter of the memory, so CIFAR-10 fits on any GPU) and are
resized once to the model's input size; `normalize` turns a batch into floats with the
training split's per-channel mean and std. CIFAR-10 training batches also get the usual
augmentation (`augment_crop_flip`: random crop of the 4-pixel-padded image, horizontal
flip), on the device, batch by batch.

Loaded datasets are cached per process, keyed by (dataset, data dir, val fraction, size):
a forked child of a warmed-up fork server reuses its parent's tensors. Nothing here
changes a cached tensor in place.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import sklearn.datasets
import torch
import torch.nn.functional as F
import torchvision.datasets
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

# The sizes live in a torch-free module so config checks need no torch; re-exported here.
from .sizes import (  # noqa: F401
    CIFAR10_DIR,
    CIFAR10_FILES,
    DIGITS_SIZE,
    DIGITS_TEST_FRACTION,
    DIGITS_TEST_SIZE,
    MNIST_FILES,
    TRAIN_POOL_SIZES,
    split_sizes,
    steps_per_epoch,
)

SPLIT_SEED = 0
NUM_CLASSES = 10
CROP_PADDING = 4

_CACHE: dict[tuple, Dataset] = {}


class DataError(Exception):
    """A dataset that cannot be loaded, with a one-line reason that says what to do."""


@dataclass(frozen=True)
class Split:
    x: torch.Tensor  # uint8 [N, C, H, W]
    y: torch.Tensor  # int64 [N]

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    val: Split
    test: Split
    mean: torch.Tensor  # per channel, in [0, 1] units
    std: torch.Tensor
    num_classes: int = NUM_CLASSES

    @property
    def channels(self) -> int:
        return self.train.x.shape[1]

    @property
    def size(self) -> int:
        return self.train.x.shape[-1]

    def to(self, device: torch.device) -> Dataset:
        """A copy with every tensor on `device` (the cached dataset stays on the CPU)."""

        def move(split: Split) -> Split:
            return Split(split.x.to(device), split.y.to(device))

        return replace(
            self,
            train=move(self.train),
            val=move(self.val),
            test=move(self.test),
            mean=self.mean.to(device),
            std=self.std.to(device),
        )


def load_dataset(name: str, data_dir: str, val_fraction: float, size: int | None) -> Dataset:
    """The dataset `name` split and resized to `size` (None: native size), cached per process."""
    # DATA_DIR means nothing to the embedded digits: a run that changed directory still hits.
    key = (name, "" if name == "digits" else str(Path(data_dir).resolve()), val_fraction, size)
    if key not in _CACHE:
        _CACHE[key] = _build(name, Path(data_dir), val_fraction, size)
    return _CACHE[key]


def _build(name: str, data_dir: Path, val_fraction: float, size: int | None) -> Dataset:
    readers = {"digits": _read_digits, "mnist": _read_mnist, "cifar10": _read_cifar10}
    (pool_x, pool_y), test = readers[name](data_dir)
    if len(pool_y) < 2:
        raise DataError(f"{name}: the training set in {data_dir} has {len(pool_y)} images; need 2 or more")
    _, n_val = split_sizes(len(pool_y), val_fraction)
    val_idx, train_idx = _permutation(len(pool_y)).split([n_val, len(pool_y) - n_val])
    pool_x = _resize(pool_x, size)
    train, val = Split(pool_x[train_idx], pool_y[train_idx]), Split(pool_x[val_idx], pool_y[val_idx])
    test = Split(_resize(test[0], size), test[1])
    mean, std = _channel_stats(train.x)
    return Dataset(name, train, val, test, mean, std)


def _permutation(n: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))


def _resize(x: torch.Tensor, size: int | None) -> torch.Tensor:
    if size is None or x.shape[-1] == size:
        return x
    # An integer factor (8x8 digits to 32x32) copies each pixel into a block, keeping the
    # strokes sharp, which trains faster than a blurred bilinear upscale; other factors
    # interpolate. Resized once at load time, in chunks so MNIST never needs a float copy.
    exact = size % x.shape[-1] == 0
    options = {"mode": "nearest"} if exact else {"mode": "bilinear", "align_corners": False}
    chunks = [
        F.interpolate(chunk.float(), size=(size, size), **options).round_().clamp_(0, 255).to(torch.uint8)
        for chunk in x.split(8192)
    ]
    return torch.cat(chunks)


def _channel_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # A fixed subsample is enough for two numbers per channel and keeps CIFAR-10 cheap.
    sample = x[:10000].double().div_(255)
    return sample.mean(dim=(0, 2, 3)).float(), sample.std(dim=(0, 2, 3)).clamp_min(1e-3).float()


def _read_digits(
    _data_dir: Path,
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    digits = sklearn.datasets.load_digits()
    # Pixel values are 0..16; scale to 0..255 so every dataset is plain uint8 images.
    x = torch.from_numpy(np.rint(digits.images * (255 / 16)).astype(np.uint8)).unsqueeze(1)
    y = torch.from_numpy(digits.target.astype(np.int64))
    test_idx, pool_idx = _permutation(len(y)).split([DIGITS_TEST_SIZE, len(y) - DIGITS_TEST_SIZE])
    return (x[pool_idx], y[pool_idx]), (x[test_idx], y[test_idx])


def _read_mnist(data_dir: Path):
    raw = data_dir / "MNIST" / "raw"

    def find(base: str) -> Path | None:
        return next((p for p in (raw / base, raw / f"{base}.gz") if p.is_file()), None)

    if not all(find(base) for base in MNIST_FILES):
        names = ", ".join(MNIST_FILES)
        _download("MNIST", data_dir, raw, f"{names} (raw or .gz)", torchvision.datasets.MNIST)
    images = [torch.from_numpy(_read_idx(find(base))) for base in MNIST_FILES]
    train_x, train_y, test_x, test_y = images
    return (train_x.unsqueeze(1), train_y.long()), (test_x.unsqueeze(1), test_y.long())


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format): magic 0x0000 08 <ndim>, big-endian dims, uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        blob = handle.read()
    if len(blob) < 4 or blob[:3] != b"\x00\x00\x08":
        raise DataError(f"{path} is not an uint8 IDX file")
    ndim = blob[3]
    dims = [int.from_bytes(blob[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(blob, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path} holds {data.size} bytes of data; its header says {dims}")
    return data.reshape(dims).copy()


def _read_cifar10(data_dir: Path):
    root = data_dir / CIFAR10_DIR
    if not all((root / name).is_file() for name in CIFAR10_FILES):
        _download("CIFAR-10", data_dir, root, ", ".join(CIFAR10_FILES), torchvision.datasets.CIFAR10)

    def read(name: str) -> dict:
        with open(root / name, "rb") as handle:
            return pickle.load(handle, encoding="latin1")

    def images(batch: dict) -> torch.Tensor:
        return torch.from_numpy(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))

    batches = [read(name) for name in CIFAR10_FILES[:5]]
    test = read("test_batch")
    train_x = torch.cat([images(b) for b in batches])
    train_y = torch.tensor([label for b in batches for label in b["labels"]], dtype=torch.int64)
    return (train_x, train_y), (images(test), torch.tensor(test["labels"], dtype=torch.int64))


def _download(title: str, data_dir: Path, where: Path, files: str, dataset_class) -> None:
    """Let torchvision fetch a dataset into `data_dir`, or fail with what to place where."""
    data_dir.mkdir(parents=True, exist_ok=True)
    # Several runs of one sweep may start on an empty DATA_DIR at once: one downloads,
    # the others wait and then find the files.
    with open(data_dir / ".ksweep-download.lock", "w") as lock, _flock(lock):
        try:
            for train in (True, False):
                dataset_class(str(data_dir), train=train, download=True)
        except Exception as err:  # torchvision raises RuntimeError, URLError, OSError ...
            # torchvision lists every mirror it tried; the last line holds the cause.
            reason = (str(err).strip().splitlines() or [type(err).__name__])[-1].strip()
            raise DataError(
                f"{title} is not in DATA_DIR={data_dir} and could not be downloaded ({reason}); "
                f"place {files} in {where}"
            ) from None


@contextlib.contextmanager
def _flock(handle):
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)


def batches(
    split: Split, batch_size: int, generator: torch.Generator | None = None, loader_workers: int | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(uint8 images, labels) batches of `split`, on the split's device.

    With a generator: shuffled, full batches only (see steps_per_epoch), for training.
    Without: in order, every sample once, for evaluation. `loader_workers` (an int)
    streams from CPU memory through a DataLoader with that many workers into pinned
    memory instead of indexing the tensors directly; the caller moves the batches.
    """
    n = len(split)
    if generator is None:
        yield from zip(split.x.split(batch_size), split.y.split(batch_size), strict=True)
        return
    steps = steps_per_epoch(n, batch_size)
    if loader_workers is not None:
        sampler = BatchSampler(
            RandomSampler(range(n), generator=generator), min(batch_size, n), drop_last=True
        )
        # batch_size=None with a batch sampler: TensorDataset indexes a whole batch at
        # once instead of collating `batch_size` single samples.
        loader = DataLoader(
            TensorDataset(split.x, split.y),
            sampler=sampler,
            batch_size=None,
            num_workers=loader_workers,
            pin_memory=torch.cuda.is_available(),  # the loader path runs only on CUDA; tests use it on CPU
        )
        yield from loader
        return
    order = torch.randperm(n, generator=generator).to(split.y.device)
    for i in range(steps):
        idx = order[i * batch_size : (i + 1) * batch_size]
        yield split.x[idx], split.y[idx]


def augment_crop_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The standard CIFAR-10 augmentation on a uint8 batch: random crop of the image padded by
    4 pixels, and a horizontal flip of every other image on average, each image its own."""
    b, c, h, w = x.shape
    dev = x.device
    dy, dx = torch.randint(0, 2 * CROP_PADDING + 1, (2, b, 1), generator=generator).to(dev)
    flip = (torch.rand(b, 1, generator=generator) < 0.5).to(dev)
    rows = torch.arange(h, device=dev) + dy
    cols = torch.arange(w, device=dev) + dx
    cols = torch.where(flip, cols.flip(1), cols)  # a flip is the columns read backwards
    padded = F.pad(x, (CROP_PADDING,) * 4)
    batch_idx = torch.arange(b, device=dev)[:, None, None, None]
    chan_idx = torch.arange(c, device=dev)[None, :, None, None]
    return padded[batch_idx, chan_idx, rows[:, None, :, None], cols[:, None, None, :]]


def normalize(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """A uint8 batch as float32, standardised with per-channel `mean` and `std` (Dataset's, on x's device)."""
    return (x.float().div_(255) - mean.view(1, -1, 1, 1)).div_(std.view(1, -1, 1, 1))
