"""Export a sweep (finished or not) to the trackers labs look at; again is harmless
(see ksweep/trackers/tracking.py).

    ksweep export --tracker mlflow,tensorboard [--sweep DIR]     make sweep-export TRACKER=...
    python scripts/export_sweep.py --tracker mlflow,tensorboard [--sweep DIR]
"""

from __future__ import annotations

import sys

from ksweep.cli import args as cli
from ksweep.contract.project import NotFound, display
from ksweep.folder.paths import find_sweep
from ksweep.trackers.tracking import TrackerError, check_installed, export, parse_trackers


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = cli.parser(__doc__, prog)
    cli.add_options(parser, "export")
    args = cli.with_defaults(parser.parse_args(argv), "export")
    try:
        names = parse_trackers(args.tracker or "")
        if not names:
            raise TrackerError("TRACKER= is empty: name one or more of mlflow, tensorboard, wandb, trackio")
        check_installed(names)
        sweep = find_sweep(args.sweep, args.output)
    except (TrackerError, NotFound) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    counts = export(sweep, names)
    if not any(logged for logged, _ in counts.values()):
        print(f"error: nothing exported from {display(sweep)}", file=sys.stderr)
        return 1
    for name, (logged, replaced) in counts.items():
        again = f" ({replaced} already there, replaced: no duplicates)" if replaced else ""
        print(f"  EXPORT  {display(sweep)}: {logged - replaced} new runs to {name}{again}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
