"""Generate, run and analyze a range file, with configs of this command's own (make sweep).

    ksweep sweep [RANGE_CONFIG] [--jobs N] [--epochs N] [--repeats k] [--dry-run] ...
    make sweep RANGE_CONFIG=defconfigs/lr-range        # in one terminal
    make sweep RANGE_CONFIG=defconfigs/wd-range        # in another, at the same time

Each command generates into a private folder beside sweep_configs/
(`.sweep_configs.<pid>.<random>`), plans its sweep from it (the sweep folder keeps a copy of
every config, so a resume needs nothing else), and publishes the same configs as
sweep_configs/ for people to read; the private folder is gone when the command ends. Two
sweeps started together therefore each train the range file they were given, whichever
wrote sweep_configs/ last. `make sweep-generate` then `make sweep-run` still work on
sweep_configs/ itself. A dry run generates, lists and estimates, and publishes nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from ksweep.analysis.analyze import report_after_run
from ksweep.cli import args as cli
from ksweep.config import generate
from ksweep.config import options as config_options
from ksweep.config.defconfigs import default_range
from ksweep.contract.project import NotFound
from ksweep.contract.records import replace_dir
from ksweep.folder.lock import maker_gone
from ksweep.folder.paths import seconds_per_epoch
from ksweep.options import resolve
from ksweep.run import options as run_options
from ksweep.run.stage import RunRequest, preflight, run_stage

PRIVATE = "{name}.{pid}."  # a private folder's name after its dot: the public name, the maker's pid


def sweep(range_file: str | None, given: dict, show_progress: bool = True) -> int:
    """The whole `make sweep` for `range_file` with the options `given` (by name); the exit code."""
    return run_sweep(range_file, given, show_progress)[0]


def run_sweep(
    range_file: str | None, given: dict, show_progress: bool = True, publish_configs: bool = True
) -> tuple[int, Path | None]:
    """`make sweep`: the exit code and the sweep folder it made (None when it made none).
    Without `publish_configs` the configs stay private (the Python API's: no shared sweep_configs/)."""
    values = resolve((*config_options.OPTIONS, *run_options.OPTIONS), given)
    public = Path(values.config_dir)
    refused = preflight(RunRequest(given=given))  # before sweep_configs/ is touched (the Kconfig chosen)
    if refused is not None:
        return refused, None
    try:
        range_file = range_file or values.range_config or default_range()
    except NotFound as err:
        print(f"error: {err}", file=sys.stderr)
        return 1, None
    public.parent.mkdir(parents=True, exist_ok=True)
    discard_abandoned(public)
    private = Path(
        tempfile.mkdtemp(prefix="." + PRIVATE.format(name=public.name, pid=os.getpid()), dir=public.parent)
    )
    try:
        code = generate_into(range_file, private, public, values, given.get("search") or "grid")
        if code:
            return code, None
        if publish_configs and not given.get("dry_run"):
            publish(private, public)
        request = RunRequest(
            given={**given, "config_dir": str(private)},
            show_progress=show_progress,
            report=report_after_run,
            config_dir_shown=public if publish_configs else None,
        )
        return run_stage(request), request.worked_on
    finally:
        shutil.rmtree(private, ignore_errors=True)


def generate_into(range_file: str, private: Path, public: Path, values, search: str) -> int:
    """Generate `range_file` into `private`, reporting it as `public`; 0, or 1 with the reason said.
    A grid too large is timed by the newest sweep of the same range file, when there is one."""
    per_epoch = seconds_per_epoch(values.output, range_file, values.train_command)
    return generate.generate_and_report(
        range_file,
        private,
        values.max_configs,
        values.repeats,
        shown_as=public,
        seconds_per_epoch=per_epoch,
        search=search,
        kconfig=values.kconfig,
    )


def publish(private: Path, public: Path) -> None:
    """sweep_configs/ becomes a copy of this command's configs, whole or not at all."""
    copy = Path(tempfile.mkdtemp(prefix=f".{public.name}.copy.", dir=public.parent))
    try:
        shutil.copytree(private, copy, dirs_exist_ok=True)
        replace_dir(copy, public)
    except BaseException:
        shutil.rmtree(copy, ignore_errors=True)
        raise


def discard_abandoned(public: Path) -> None:
    """Remove private folders whose command was killed (their maker's pid is gone)."""
    for path in public.parent.glob("." + PRIVATE.format(name=public.name, pid="*") + "*"):
        if maker_gone(path, f".{public.name}."):
            shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = cli.parser(__doc__, prog)
    parser.add_argument(
        "range_file", nargs="?", help="range defconfig: a path or a name under defconfigs/ (RANGE_CONFIG)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs stay line by line)")
    cli.add_options(parser, "sweep")
    args = parser.parse_args(argv)
    range_file = cli.one_of(parser, args.range_config, args.range_file, "RANGE_CONFIG")
    given = {k: v for k, v in vars(args).items() if k not in ("range_file", "no_progress")}
    return sweep(range_file, given, show_progress=not args.no_progress)
