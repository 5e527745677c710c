#!/usr/bin/env python3
"""A training script that knows nothing of ksweep, printing what PyTorch's MNIST example prints.

    python argparse_trainer.py --lr 1.0 --batch-size 64 --epochs 2

takes its flags with argparse, as pytorch/examples' mnist/main.py does (the same names and
defaults for the ones it has), writes no training_metrics.json, and prints per epoch

    Train Epoch: 1 [0/60000 (0%)]	Loss: 2.301000
    ...
    Test set: Average loss: 0.0457, Accuracy: 9851/10000 (99%)

No torch and no data: the accuracy is a deterministic function of its flags (best at
--lr 1.0 --batch-size 64, rising with each epoch), so tests know the ranking. An --lr of
50 or more "diverges": it prints `loss is nan, stopping` and exits 0 with no test line,
as a script that gives up quietly does. --data-dir (default ../data, as the example's
datasets.MNIST('../data')) is printed once, so a test can see what it received.
"""

import argparse
import math

TRAIN_SIZE, TEST_SIZE = 60000, 10000


def accuracy(lr: float, batch_size: int, epoch: int) -> float:
    """Percent correct after `epoch` epochs: 99 at lr 1.0, batch 64, after many epochs."""
    ceiling = 99.0 - 6.0 * abs(math.log10(lr)) - 2.0 * abs(math.log2(batch_size / 64))
    return max(10.0, ceiling - 8.0 / epoch)


def main() -> int:
    parser = argparse.ArgumentParser(description="PyTorch MNIST Example")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N")
    parser.add_argument("--test-batch-size", type=int, default=1000, metavar="N")
    parser.add_argument("--epochs", type=int, default=14, metavar="N")
    parser.add_argument("--lr", type=float, default=1.0, metavar="LR")
    parser.add_argument("--gamma", type=float, default=0.7, metavar="M")
    parser.add_argument("--seed", type=int, default=1, metavar="S")
    parser.add_argument("--log-interval", type=int, default=300, metavar="N")
    parser.add_argument("--save-model", action="store_true")
    parser.add_argument("--data-dir", default="../data")
    args = parser.parse_args()
    print(f"Data: {args.data_dir}", flush=True)
    batches = math.ceil(TRAIN_SIZE / args.batch_size)
    for epoch in range(1, args.epochs + 1):
        for batch in range(0, batches, args.log_interval):
            if args.lr >= 50:
                print("loss is nan, stopping", flush=True)
                return 0
            loss = 2.3 / (1 + epoch * args.lr * (batch + 1) / batches)
            done, percent = batch * args.batch_size, 100.0 * batch / batches
            print(f"Train Epoch: {epoch} [{done}/{TRAIN_SIZE} ({percent:.0f}%)]\tLoss: {loss:.6f}")
        correct = round(accuracy(args.lr, args.batch_size, epoch) * TEST_SIZE / 100)
        test_loss = 0.02 + (TEST_SIZE - correct) / TEST_SIZE * 1.5
        print(
            f"\nTest set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{TEST_SIZE} "
            f"({100.0 * correct / TEST_SIZE:.0f}%)\n",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
