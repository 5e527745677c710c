"""MNIST and CIFAR-10 read from DATA_DIR in torchvision's on-disk layout, and refused when missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models import data
from tests.trainer_helpers import (
    read_metrics,
    run_cli,
    run_quiet,
    write_config,
    write_tiny_cifar10,
    write_tiny_mnist,
)


def test_tiny_mnist_gzip_trains_one_epoch(tmp_path):
    write_tiny_mnist(tmp_path / "data", n_train=200, n_test=50, gz=True)
    config = write_config(
        tmp_path / "config",
        DATASET_SELECT_MNIST=True,
        DATA_DIR=str(tmp_path / "data"),
        NUM_EPOCHS=1,
        BATCH_SIZE=32,
    )
    code, out, err = run_quiet(config, tmp_path / "run")
    assert code == 0, err
    assert "dataset mnist" in out and "train 180 val 20 test 50" in out
    assert read_metrics(tmp_path / "run")["final"]["test_acc"] is not None


def test_tiny_mnist_raw_idx_files_are_read_as_well(tmp_path):
    write_tiny_mnist(tmp_path / "data", n_train=100, n_test=30, gz=False)
    ds = data.load_dataset("mnist", str(tmp_path / "data"), 0.1, 32)
    assert ds.train.x.shape == (90, 1, 32, 32) and ds.train.x.dtype == torch.uint8
    assert (len(ds.val), len(ds.test), ds.channels) == (10, 30, 1)


def test_tiny_cifar10_trains_one_epoch(tmp_path):
    write_tiny_cifar10(tmp_path / "data", n_train=250, n_test=50)
    config = write_config(
        tmp_path / "config",
        DATASET_SELECT_CIFAR10=True,
        DATA_DIR=str(tmp_path / "data"),
        NUM_EPOCHS=1,
        BATCH_SIZE=32,
    )
    code, out, err = run_quiet(config, tmp_path / "run")
    assert code == 0, err
    assert "dataset cifar10" in out and "train 225 val 25 test 50" in out
    assert read_metrics(tmp_path / "run")["status"] == "completed"


@pytest.mark.slow
def test_missing_mnist_offline_names_data_dir_and_files_without_traceback(tmp_path):
    data_dir = tmp_path / "nodata"
    config = write_config(tmp_path / "config", DATASET_SELECT_MNIST=True, DATA_DIR=str(data_dir))
    proc = run_cli(config, tmp_path / "run")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"DATA_DIR={data_dir}" in proc.stderr and "train-images-idx3-ubyte" in proc.stderr
    assert str(data_dir / "MNIST" / "raw") in proc.stderr
    assert read_metrics(tmp_path / "run")["status"] == "failed"


def test_validation_split_is_the_same_for_every_seed_and_disjoint_from_training():
    ds = data.load_dataset("digits", "data", 0.1, None)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (1374, 153, 270)
    again = data._build("digits", Path("data"), 0.1, None)
    assert torch.equal(again.val.x, ds.val.x)
    train_rows = {bytes(x.numpy()) for x in ds.train.x}
    assert sum(bytes(x.numpy()) in train_rows for x in ds.val.x) < 5  # digits has a few duplicate images


def test_crop_and_flip_keep_shape_and_pixels():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.int64).remainder(251).to(torch.uint8).view(2, 3, 32, 32)
    out = data.augment_crop_flip(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
    assert set(out.unique().tolist()) <= set(x.unique().tolist()) | {0}  # padding is black
    outs = [data.augment_crop_flip(x, torch.Generator().manual_seed(seed)) for seed in range(8)]
    assert any(not torch.equal(o, x) for o in outs)  # it augments: not the identity
    assert any(not torch.equal(a, b) for a, b in zip(outs, outs[1:], strict=False))  # and by seed


def test_loader_and_indexed_batches_give_full_batches_of_distinct_samples():
    split = data.Split(torch.arange(100, dtype=torch.uint8).view(100, 1, 1, 1), torch.arange(100))
    for workers in (None, 0):
        got = list(data.batches(split, 32, torch.Generator().manual_seed(0), loader_workers=workers))
        labels = torch.cat([y for _, y in got])
        assert [len(y) for _, y in got] == [32] * data.steps_per_epoch(100, 32)
        assert len(set(labels.tolist())) == 96
        assert all(torch.equal(x.view(-1).long(), y) for x, y in got)
