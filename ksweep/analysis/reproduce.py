"""make sweep-reproduce RUN=dir: train a finished run again from its folder alone, and compare.

From the run folder and its sweep: config.txt (checked against the plan's copy, the config
the run trained, and against the config hash its record holds), the sweep's trainer
(TRAIN_COMMAND or the built-in one, run where the sweep was started, its metrics read from
its output under the sweep's LOG_METRICS), the thread count the run had (env.threads →
KSWEEP_THREADS), its seed (in the config). The code and the environment cannot be put
back, only compared: the git commit the sweep recorded against HEAD, the python and
torch versions and the device against this machine's. The run is trained into a temp
folder and its metrics compared with the recorded ones, every epoch and the final block,
except the timings: `identical` means bit for bit (on the CPU, same machine and build).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from ksweep.config import trainer
from ksweep.contract.gitstate import git_commit
from ksweep.contract.project import PROJECT_ROOT
from ksweep.contract.records import config_hash, config_values, read_metrics
from ksweep.contract.sweepdir import SweepPaths
from ksweep.folder.plan import load_plan, plan_text, read_manifest
from ksweep.launchers.command import run_argv
from ksweep.run.logmetrics import parse_spec, read_output

TIMINGS = ("seconds", "train_seconds")


class ReproduceError(ValueError):
    """The run cannot be reproduced (no record, not a sweep's run); the message says why."""


@dataclass
class Verdict:
    identical: bool
    notes: list[str] = field(default_factory=list)  # what was put back, and what differs around it
    differences: list[str] = field(default_factory=list)  # metric by metric


def reproduce(run_dir: Path) -> Verdict:
    run_dir = run_dir.resolve()
    sweep_dir = run_dir.parent
    record = read_metrics(run_dir)
    if not isinstance(record, dict) or record.get("status") != "completed":
        raise ReproduceError(
            f"{run_dir}: no completed run to reproduce (status {(record or {}).get('status')})"
        )
    config = SweepPaths(sweep_dir).run(run_dir.name).config
    if not config.is_file():
        raise ReproduceError(f"{run_dir}: no config.txt")
    notes = config_notes(sweep_dir, run_dir.name, config.read_text(encoding="utf-8"), record)
    notes += environment_notes(read_manifest(sweep_dir), record.get("env") or {})
    again = train_again(config, read_manifest(sweep_dir), record)
    differences = compare(record, again)
    return Verdict(not differences, notes, differences)


def config_notes(sweep_dir: Path, name: str, text: str, record: dict) -> list[str]:
    trained_hash = (record.get("runner") or {}).get("config_hash") or (record.get("env") or {}).get(
        "config_hash"
    )
    if trained_hash in (None, config_hash(text)):
        return [f"config: config.txt, as the run trained it ({config_hash(text)})"]
    planned = next((run for run in load_plan(sweep_dir) if run.run_dir == name), None)
    before = config_values(plan_text(sweep_dir, planned)) if planned else {}
    now = config_values(text)
    changed = [
        f"{symbol}={before.get(symbol, '(unset)')} → {now.get(symbol, '(unset)')}"
        for symbol in sorted(set(before) | set(now))
        if before.get(symbol) != now.get(symbol)
    ]
    what = ", ".join(changed) if changed else f"hash {trained_hash} → {config_hash(text)}"
    return [f"config: config.txt was edited after the run trained: {what}"]


def environment_notes(manifest: dict, env: dict) -> list[str]:

    notes = []
    recorded, head = manifest.get("git_commit"), git_commit()
    if recorded and head and recorded != head:
        notes.append(f"code: the sweep ran at commit {recorded[:12]}, this checkout is at {head[:12]}")
    if manifest.get("git_dirty"):
        notes.append("code: the sweep ran with uncommitted changes (see sweep.json git_diff_sha256)")
    if env.get("python") and env["python"] != platform.python_version():
        notes.append(f"python: the run had {env['python']}, this is {platform.python_version()}")
    try:
        torch_now = version("torch")
    except Exception:
        torch_now = None
    if env.get("torch") and torch_now and env["torch"].split("+")[0] != torch_now.split("+")[0]:
        notes.append(f"torch: the run had {env['torch']}, this is {torch_now}")
    return notes


def train_again(config: Path, manifest: dict, record: dict) -> dict:
    """Train the config into a temp folder as the run trained it; return the new record."""
    options = manifest.get("options") or {}
    command = options.get("train_command")
    argv = shlex.split(command) if command else trainer.command()
    log_metrics = parse_spec(options["log_metrics"]) if options.get("log_metrics") else None
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    threads = (record.get("env") or {}).get("threads")
    if isinstance(threads, int):
        env["KSWEEP_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory(prefix="ksweep-reproduce-") as out:
        where = manifest.get("cwd") if command else None  # a TRAIN_COMMAND runs where its sweep started
        where = where if where and Path(where).is_dir() else None  # a sweep moved elsewhere: here
        done = subprocess.run(
            run_argv(argv, str(config), out), cwd=where, env=env, capture_output=True, text=True
        )
        again = read_metrics(Path(out))
        if again is None and log_metrics and done.returncode == 0:  # its metrics are in its output
            again = read_output(log_metrics, done.stdout + done.stderr)[0]
        if done.returncode != 0 or not again:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ReproduceError(f"the run did not train again (exit {done.returncode}): {tail[0]}")
        return again


def compare(before: dict, after: dict) -> list[str]:
    differences = []
    rows = before.get("epochs") or [], after.get("epochs") or []
    if len(rows[0]) != len(rows[1]):
        differences.append(f"epochs: {len(rows[0])} recorded, {len(rows[1])} now")
    for old, new in zip(*rows, strict=False):
        differences += _differ(f"epoch {old.get('epoch')}", old, new)
    differences += _differ("final", before.get("final") or {}, after.get("final") or {})
    return differences


def _differ(where: str, old: dict, new: dict) -> list[str]:
    return [
        f"{where} {key}: {json.dumps(old.get(key))} recorded, {json.dumps(new.get(key))} now"
        for key in sorted(set(old) | set(new))
        if key not in TIMINGS and old.get(key) != new.get(key)
    ]
