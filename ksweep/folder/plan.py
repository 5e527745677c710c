"""The sweep directory: its manifest, its own plan, and run identity (the lock: ksweep.folder.lock).

    test_matrix_results/sweep_YYYYMMDD_HHMMSS/     (names: ksweep.contract.sweepdir.SweepPaths)
        sweep.json      manifest: range file text, axes, count, git commit, created, runner options
        plan.json       every planned run: number, run dir name, config hash
        plan/config_NNN the exact config each run trains (EPOCHS override applied)
        .lock           held (flock) by the runner working on this sweep

A new sweep folder is built under a hidden temporary name (manifest with the runner's
options first, then the plan) and renamed into place, so a folder named sweep_* is
always one that resume can continue: a kill at any instant never leaves a folder
without a plan, nor a plan without the options (the trainer) it must run with.

A run's identity is the hash of its resolved config (ksweep.contract.records.config_hash), not
its number: a regenerated sweep_configs/ with other numbering maps onto the same runs,
and running a larger grid into an existing sweep adds only the new points, numbered
after the existing ones. The plan is the sweep's own copy, so resuming needs nothing
outside the sweep directory.

"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ksweep.contract.gitstate import git_state
from ksweep.contract.project import command_line
from ksweep.contract.records import config_hash, config_values, read_json, write_atomic, write_json_atomic
from ksweep.contract.sweepdir import ConfigDirPaths, SweepPaths
from ksweep.folder.lock import lock_holder, maker_gone

MANIFEST = SweepPaths.MANIFEST
PLAN = SweepPaths.PLAN
PLAN_DIR = SweepPaths.PLAN_DIR
LOCK = SweepPaths.LOCK
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


def new_sweep_dir(output_dir: Path) -> Path:
    """A fresh, empty sweep folder under a hidden name; `publish_sweep_dir` names it when it is whole."""
    output_dir.mkdir(parents=True, exist_ok=True)
    # The maker's pid is in the name: a folder whose maker is gone is stale at once (discard_unpublished).
    return Path(tempfile.mkdtemp(prefix=f".sweep_new.{os.getpid()}.", dir=output_dir))


def publish_sweep_dir(building: Path) -> Path:
    """Rename a whole new sweep folder to sweep_YYYYMMDD_HHMMSS (a suffix when the second is taken)."""
    os.chmod(building, 0o777 & ~_umask())
    stamp = dt.datetime.now().strftime("sweep_%Y%m%d_%H%M%S")
    for suffix in ["", *(f"_{i:02d}" for i in range(1, 100))]:
        candidate = building.parent / (stamp + suffix)
        if candidate.exists():
            continue
        try:
            os.rename(building, candidate)
            return candidate
        except OSError:  # taken in the meantime
            continue
    raise PlanError(f"cannot create a new sweep folder in {building.parent}")


def discard_unpublished(output_dir: Path) -> None:
    """Remove new sweep folders whose runner died before naming them: no runner holds their
    lock, and their maker (the pid in the name) is gone, or they are older than a minute."""
    for path in Path(output_dir).glob(".sweep_new.*"):
        try:
            # A name without a pid (an older runner's): its age decides.
            if lock_holder(path) is None and (
                maker_gone(path, ".sweep_new.") or time.time() - path.stat().st_mtime > 60
            ):
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_config_dir(config_dir: Path) -> list[tuple[str, str]]:
    """(name, text) of every config_NNN in a generated folder, in number order."""
    if not config_dir.is_dir():
        generate = command_line("sweep-generate", range_config="...")
        raise PlanError(f"{config_dir}/: no such folder: run `{generate}` first")
    files = [p for p in config_dir.iterdir() if _CONFIG_NAME.match(p.name)]
    if not files and (read_json(ConfigDirPaths(config_dir).provenance) or {}).get("search"):
        run = command_line("sweep-run", search="tpe", samples="N")
        raise PlanError(
            f"{config_dir}/ holds a search space (generated with SEARCH=), no configs: run it with `{run}`"
        )
    if not files:
        raise PlanError(
            f"{config_dir}/ holds no config_NNN files: run `{command_line('sweep-generate')}` first"
        )
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


def plan_additions(
    plan: list[PlannedRun], configs: list[tuple[str, str]], epochs: int | None
) -> list[tuple[PlannedRun, str]]:
    """The runs (and their config text) that `configs` add to `plan`, numbered after it; writes nothing."""
    known = {run.config_hash for run in plan}
    width = max(3, len(str(len(plan) + len(configs))))
    added: list[tuple[PlannedRun, str]] = []
    for _name, text in configs:
        text = override_epochs(text, epochs)
        digest = config_hash(text)
        if digest in known:
            continue
        known.add(digest)
        number = len(plan) + len(added) + 1
        added.append((PlannedRun(number, run_dir_name(number, text, width), digest), text))
    return added


def extend_plan(
    sweep_dir: Path, configs: list[tuple[str, str]], epochs: int | None
) -> tuple[list[PlannedRun], int]:
    """Add the configs the plan lacks (by hash); return the whole plan and how many were added."""
    plan = load_plan(sweep_dir) if (sweep_dir / PLAN).exists() else []
    added = plan_additions(plan, configs, epochs)
    (sweep_dir / PLAN_DIR).mkdir(exist_ok=True)
    for run, text in added:
        write_atomic(sweep_dir / PLAN_DIR / run.config_name, text)
    plan += [run for run, _ in added]
    write_json_atomic(sweep_dir / PLAN, [asdict(run) for run in plan])
    return plan, len(added)


# The provenance keys the generator (or promote) records in sweep_configs/generate.json.
SOURCE_KEYS = ("range_file", "range_text", "axes", "promoted_from", "repeats")


def write_manifest(
    sweep_dir: Path, config_dir: Path | None, count: int, options: dict, shown_as: Path | None = None
) -> None:
    """sweep.json: where the sweep came from and the options it runs with.

    The first source stays the sweep's source; a later extension from another range file
    (or a promotion) is added to `extended_from`, never written over it.
    """
    old = read_json(sweep_dir / MANIFEST) or {}
    source = config_source(config_dir) if config_dir else {}
    manifest = {
        "created": old.get("created") or dt.datetime.now().isoformat(timespec="seconds"),
        **({k: old.get(k) for k in ("git_commit", "git_dirty", "git_diff_sha256")} if old else git_state()),
        "config_dir": old.get("config_dir") or (str(shown_as or config_dir) if config_dir else None),
        "cwd": old.get("cwd") or os.getcwd(),  # where a TRAIN_COMMAND ran: its relative paths are from here
        **{key: old.get(key, source.get(key)) for key in SOURCE_KEYS},
        "extended_from": old.get("extended_from", []),
        "count": count,
        "options": {**old.get("options", {}), **options},
    }
    manifest["axes"] = manifest["axes"] or {}
    known = [{k: old.get(k) for k in SOURCE_KEYS}] + [
        {k: e.get(k) for k in SOURCE_KEYS} for e in manifest["extended_from"]
    ]
    if old and source and {k: source.get(k) for k in SOURCE_KEYS} not in known:
        manifest["extended_from"] = [*manifest["extended_from"], {**source, "count": count}]
    write_json_atomic(sweep_dir / MANIFEST, manifest)


def config_source(config_dir: Path) -> dict:
    """What sweep_configs/ was made from, as its maker recorded it (generate.json); {} when unknown."""
    recorded = read_json(ConfigDirPaths(config_dir).provenance)
    if not isinstance(recorded, dict):
        return {}
    keys = (*SOURCE_KEYS, "train_command", "log_metrics", "epochs", "hashes")
    return {key: recorded.get(key) for key in keys}


def read_manifest(sweep_dir: Path) -> dict:
    return read_json(sweep_dir / MANIFEST) or {}
