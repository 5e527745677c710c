"""What the command-line scripts share: importing the project from any working directory,
and the ranking options (--results-dir, --metric, --mode) with their defaults."""

import argparse
import math
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

RESULTS_DIR = "test_matrix_results"


def add_ranking_args(parser: argparse.ArgumentParser, results_dir: bool = True) -> None:
    if results_dir:
        parser.add_argument("--results-dir", help=f"where sweeps are found (default {RESULTS_DIR})")
    parser.add_argument("--metric", help="record key to rank by (default val_acc)")
    # No argparse choices: Make passes --mode= when MODE is unset, and the library's
    # refusal of a bad mode is the same one line as every other error.
    parser.add_argument("--mode", help="max or min (default: by metric, min for losses and times)")


def ranking_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the defaults in: Make passes its variables as --metric=$(METRIC), empty when unset."""
    from ksweep.summary import DEFAULT_METRIC

    # mode None: ksweep.summary.default_mode decides (a loss ranks lowest first).
    args.metric, args.mode = args.metric or DEFAULT_METRIC, args.mode or None
    if hasattr(args, "results_dir"):
        args.results_dir = args.results_dir or RESULTS_DIR
    return args


def at_least(low: float, kind=int, strict: bool = False):
    """An argparse type: a number of `kind`, at least `low` (above it when `strict`), else a clear error."""

    def parse(text: str):
        what = "a whole number" if kind is int else "a number"
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"{text} must be {'above' if strict else 'at least'} {low:g}")
        return value

    return parse
