"""The sweep directory: its manifest, its own plan, run identity, and the lock.

    test_matrix_results/sweep_YYYYMMDD_HHMMSS/
        sweep.json      manifest: range file text, axes, count, git commit, created, runner options
        plan.json       every planned run: number, run dir name, config hash
        plan/config_NNN the exact config each run trains (EPOCHS override applied)
        .lock           held (flock) by the runner working on this sweep

A run's identity is the hash of its resolved config (ksweep.records.config_hash), not
its number: a regenerated sweep_configs/ with other numbering maps onto the same runs,
and running a larger grid into an existing sweep adds only the new points, numbered
after the existing ones. The plan is the sweep's own copy, so resuming needs nothing
outside the sweep directory.

The lock is an flock on `.lock`: the kernel drops it when the runner dies, so a lock
left by a killed runner never blocks a resume, while a live runner is refused by pid.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from ksweep.kconf import PROJECT_ROOT
from ksweep.records import config_hash, config_values, read_json, write_atomic, write_json_atomic

MANIFEST = "sweep.json"
PLAN = "plan.json"
PLAN_DIR = "plan"
LOCK = ".lock"
_CONFIG_NAME = re.compile(r"^config_\d+$")
# The seed's run names: config_NNN_<model>_<optimizer>[_<pruning>_<sparsity %>], read from
# the selected member of these choices; a config without them is named config_NNN.
_NAME_CHOICES = ("MODEL_SELECT", "OPTIMIZER_SELECT")


class PlanError(Exception):
    """The sweep directory cannot be used as asked; the message says why and what to do."""


@dataclass(frozen=True)
class PlannedRun:
    number: int
    run_dir: str  # config_NNN_<model>_<optimizer>...
    config_hash: str

    @property
    def config_name(self) -> str:
        return "_".join(self.run_dir.split("_")[:2])


def git_commit() -> str | None:
    """The project's commit (HEAD), or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


def new_sweep_dir(output_dir: Path) -> Path:
    """A fresh sweep_YYYYMMDD_HHMMSS folder; a second sweep in the same second gets a suffix."""
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("sweep_%Y%m%d_%H%M%S")
    for suffix in ["", *(f"_{i:02d}" for i in range(1, 100))]:
        candidate = output_dir / (stamp + suffix)
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise PlanError(f"cannot create a new sweep folder in {output_dir}")


def read_config_dir(config_dir: Path) -> list[tuple[str, str]]:
    """(name, text) of every config_NNN in a generated folder, in number order."""
    if not config_dir.is_dir():
        raise PlanError(f"{config_dir}/: no such folder: run `make sweep-generate RANGE_CONFIG=...` first")
    files = [p for p in config_dir.iterdir() if _CONFIG_NAME.match(p.name)]
    if not files:
        raise PlanError(f"{config_dir}/ holds no config_NNN files: run `make sweep-generate` first")
    return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(files, key=lambda p: int(p.name[7:]))]


def override_epochs(text: str, epochs: int | None) -> str:
    """The config with NUM_EPOCHS set to `epochs` (the seed's --override-epochs)."""
    if epochs is None:
        return text
    lines = [line for line in text.splitlines() if not line.startswith("CONFIG_NUM_EPOCHS=")]
    return "\n".join(lines + [f"CONFIG_NUM_EPOCHS={epochs}"]) + "\n"


def run_dir_name(number: int, text: str, width: int = 3) -> str:
    values = config_values(text)
    parts = [f"config_{number:0{width}d}"]
    for prefix in _NAME_CHOICES:
        head = f"CONFIG_{prefix}_"
        chosen = [name[len(head) :] for name, v in values.items() if name.startswith(head) and v == "y"]
        parts += [c.lower() for c in chosen[:1]]
    method = values.get("CONFIG_PRUNING_METHOD", "none")
    sparsity = values.get("CONFIG_TARGET_SPARSITY", "")
    if method not in ("", "none") and sparsity:
        parts += [method, f"{round(float(sparsity) * 100)}"]
    return "_".join(parts)


def load_plan(sweep_dir: Path) -> list[PlannedRun]:
    data = read_json(sweep_dir / PLAN)
    if not isinstance(data, list):
        raise PlanError(f"{sweep_dir}: no plan.json: not a sweep folder made by ksweep")
    return [PlannedRun(**entry) for entry in data]


def plan_text(sweep_dir: Path, run: PlannedRun) -> str:
    return (sweep_dir / PLAN_DIR / run.config_name).read_text(encoding="utf-8")


def extend_plan(
    sweep_dir: Path, configs: list[tuple[str, str]], epochs: int | None
) -> tuple[list[PlannedRun], int]:
    """Add the configs the plan lacks (by hash); return the whole plan and how many were added."""
    plan = load_plan(sweep_dir) if (sweep_dir / PLAN).exists() else []
    known = {run.config_hash for run in plan}
    (sweep_dir / PLAN_DIR).mkdir(exist_ok=True)
    width = max(3, len(str(len(plan) + len(configs))))
    added = 0
    for _name, text in configs:
        text = override_epochs(text, epochs)
        digest = config_hash(text)
        if digest in known:
            continue
        known.add(digest)
        number = len(plan) + 1
        run = PlannedRun(number, run_dir_name(number, text, width), digest)
        write_atomic(sweep_dir / PLAN_DIR / run.config_name, text)
        plan.append(run)
        added += 1
    write_json_atomic(sweep_dir / PLAN, [asdict(run) for run in plan])
    return plan, added


def write_manifest(sweep_dir: Path, config_dir: Path, count: int, options: dict) -> None:
    """sweep.json: where the sweep came from, kept current as the plan grows."""
    old = read_json(sweep_dir / MANIFEST) or {}
    source = range_source(config_dir)
    manifest = {
        "created": old.get("created") or dt.datetime.now().isoformat(timespec="seconds"),
        "git_commit": old.get("git_commit") or git_commit(),
        "config_dir": str(config_dir),
        "range_file": source.get("range_file") or old.get("range_file"),
        "range_text": source.get("range_text") or old.get("range_text"),
        "axes": source.get("axes") or old.get("axes") or {},
        "count": count,
        "options": {**old.get("options", {}), **options},
    }
    write_json_atomic(sweep_dir / MANIFEST, manifest)


def range_source(config_dir: Path) -> dict:
    """The range file the generator named in combinations_summary.txt, with its text and axes."""
    summary = config_dir / "combinations_summary.txt"
    if not summary.is_file():
        return {}
    first = (summary.read_text(encoding="utf-8").splitlines() or [""])[0]
    if not first.startswith("Range file: "):
        return {}  # promoted configs name their source runs instead
    path = Path(first.removeprefix("Range file: ").strip())
    if not path.is_file():
        return {"range_file": str(path)}
    from ksweep.rangefile import RangeFileError, parse_range_file

    try:
        axes = {a.symbol: list(a.values) for a in parse_range_file(path)}
    except RangeFileError:
        axes = {}
    return {"range_file": str(path), "range_text": path.read_text(encoding="utf-8"), "axes": axes}


def read_manifest(sweep_dir: Path) -> dict:
    return read_json(sweep_dir / MANIFEST) or {}


class SweepLock:
    """An exclusive flock on the sweep dir; refuses with the holder's pid."""

    def __init__(self, sweep_dir: Path):
        self.path = sweep_dir / LOCK
        self.fd: int | None = None

    def __enter__(self) -> SweepLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise PlanError(
                f"{self.path.parent}: another runner (pid {holder}) is working on this sweep; "
                "wait for it, or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None


def lock_holder(sweep_dir: Path) -> int | None:
    """The pid of the live runner holding the sweep's lock, or None."""
    path = sweep_dir / LOCK
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, 64, 0).decode(errors="replace").strip()
        return int(text) if text.isdigit() else -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
