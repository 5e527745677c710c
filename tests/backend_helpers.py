"""What the backend tests read back from a sweep folder, the same for every backend."""

import json
import re


def records(sweep_dir):
    return {
        run.name: json.loads((run / "training_metrics.json").read_text())
        for run in sorted(sweep_dir.glob("config_*"))
    }


def ranking(sweep_dir):
    """(rank, config) of the analysis's TOP 10 table."""
    text = (sweep_dir / "sweep_analysis.txt").read_text().split("TOP 10 CONFIGURATIONS:")[1]
    return re.findall(r"^\s+(\d+=?)\s+(config_\d+)\s", text.split("=" * 20)[0], re.MULTILINE)


def summary_rows(sweep_dir):
    keep = ("config_file", "run_dir", "status", "success", "val_acc", "test_acc", "error", "CONFIG_SEED")
    rows = json.loads((sweep_dir / "sweep_summary.json").read_text())
    return sorted(tuple(row.get(k) for k in keep) for row in rows)


def status_of(sweep_dir, run_prefix):
    found = list(sweep_dir.glob(f"{run_prefix}_*/training_metrics.json"))
    try:
        return json.loads(found[0].read_text()).get("status") if found else None
    except ValueError:
        return None  # being replaced
