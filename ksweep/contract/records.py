"""The one schema of a run's `training_metrics.json`, and atomic file writes.

Every run directory holds `training_metrics.json`, written by the trainer (any
command honouring the contract) and, when the trainer could not, by the runner:

    {
      "status": "completed",   # running | completed | failed | diverged | timeout | interrupted | pruned
      "epochs": [{"epoch": 1, "train_loss": .., "train_acc": .., "val_loss": ..,
                  "val_acc": .., "lr": .., "sparsity": .., "seconds": ..}, ...],
      "final": {"val_acc": .., "val_loss": .., "test_acc": .. | null,
                "sparsity": .., "train_seconds": ..},
      "error": "why it did not complete" | null,
      "env": {"python": .., "torch": .., "cuda": .., "device": .., "git_commit": ..,
              "hostname": .., "seed": .., "config_hash": ..}
    }

Accuracies are percentages (0-100) everywhere; sparsity is a fraction (0-1).
Writes go to a temp file in the same directory and are renamed over the target, so
a reader (or a crash) only ever sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ksweep.contract.state import FINISHED, RECORDED  # noqa: F401 - re-exported: the schema's statuses
from ksweep.contract.sweepdir import CONFIG_FILE, LOG_FILE, METRICS_FILE  # noqa: F401 - one owner of names

STATUSES = RECORDED
EPOCH_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "sparsity", "seconds")
FINAL_KEYS = ("val_acc", "val_loss", "test_acc", "sparsity", "train_seconds")

_UMASK = os.umask(0o022)
os.umask(_UMASK)
_ASSIGNMENT_LINE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+=.*|# CONFIG_[A-Za-z0-9_]+ is not set)$")


def write_atomic(path: Path | str, text: str | bytes, durable: bool = True) -> None:
    """Replace `path` with `text` (or bytes) so that no reader ever sees a partial file;
    `durable` also waits for the disk (fsync), so a power cut cannot leave an empty file behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    binary = isinstance(text, bytes)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are for colleagues too
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as handle:
            handle.write(text)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def replace_dir(new: Path, target: Path) -> None:
    """Move the finished folder `new` to `target`; an old `target` stays whole until `new` is in place."""
    if not target.exists():
        os.rename(new, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    os.rename(target, old / target.name)
    try:
        os.rename(new, target)
    except OSError:
        os.rename(old / target.name, target)  # put the old folder back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _json_safe(value: Any) -> Any:
    # NaN/inf are not JSON; a diverged run's loss is recorded as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json_atomic(path: Path | str, data: Any) -> None:
    write_atomic(path, json.dumps(_json_safe(data), indent=2, allow_nan=False) + "\n")


def read_json(path: Path | str) -> Any | None:
    """The parsed file, or None when it is missing or not valid JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_tail(path: Path | str, size: int = 8192) -> str | None:
    """The last `size` bytes of a text file (a log can be large), or None when unreadable."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - size))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None


def new_metrics(env: dict | None = None) -> dict:
    """An empty record in the `running` state."""
    return {"status": "running", "epochs": [], "final": {}, "error": None, "env": env or {}}


def read_metrics(run_dir: Path | str) -> dict | None:
    data = read_json(Path(run_dir) / METRICS_FILE)
    return data if isinstance(data, dict) else None


def config_assignments(text: str) -> list[str]:
    """The assignment lines of a .config, sorted: what a config means, without its comments."""
    lines = (line.strip() for line in text.splitlines())
    return sorted(line for line in lines if _ASSIGNMENT_LINE.match(line))


def config_hash(text: str) -> str:
    """A run's identity: the hash of its resolved config, independent of file name and comments."""
    return hashlib.sha256("\n".join(config_assignments(text)).encode()).hexdigest()[:16]


def config_values(text: str) -> dict[str, str]:
    """CONFIG_NAME → value (unquoted; `n` for `# ... is not set`) of a .config text."""
    values = {}
    for line in config_assignments(text):
        if line.startswith("#"):
            values[line.split()[1]] = "n"
        else:
            name, _, value = line.partition("=")
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            values[name] = value
    return values


def _finite(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def total_time(runner: dict, final: dict, epochs: list) -> float | None:
    """A run's time as the summary reports it. The runner's wall clock includes start-up and
    data loading; the trainer's own figure is the fallback, and the epochs' sum is all a
    running run has."""
    for value in (runner.get("wall_seconds"), final.get("train_seconds")):
        if _finite(value) is not None:
            return float(value)
    seconds = [e["seconds"] for e in epochs if isinstance(e, dict) and _finite(e.get("seconds")) is not None]
    return float(sum(seconds)) if seconds else None


def run_metric(record: dict, name: str) -> float | None:
    """One metric of a run's record, named as the summary names it (a key of `final`, or
    total_time, final_sparsity, train_acc of the last epoch, epochs); None when it has none."""
    final = record.get("final") if isinstance(record.get("final"), dict) else {}
    epochs = record.get("epochs") if isinstance(record.get("epochs"), list) else []
    if name == "total_time":
        runner = record.get("runner") if isinstance(record.get("runner"), dict) else {}
        return total_time(runner, final, epochs)
    if name == "final_sparsity":
        return _finite(final.get("sparsity"))
    if name == "train_acc":
        return _finite(epochs[-1].get("train_acc")) if epochs and isinstance(epochs[-1], dict) else None
    if name == "epochs":
        return float(len(epochs))
    return _finite(final.get(name))
