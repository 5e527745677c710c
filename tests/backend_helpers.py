"""What the backend tests read back from a sweep folder, the same for every backend."""

import json
import re
import signal


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


def kill_driver_after_two_completed(sweep, driver) -> tuple:
    """SIGKILL the runner once 2 of the 6 runs completed; (the sweep dir, each completed run's
    record mtime and log), to check a resume left them as they were (`untouched`)."""
    from tests.conftest import wait_for

    def completed():
        return sum(status_of(sweep.dirs()[0], f"config_00{i}") == "completed" for i in range(1, 7))

    wait_for(lambda: sweep.dirs() and completed() >= 2, 120)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    sweep_dir = sweep.dirs()[0]
    done = {
        run.name: ((run / "training_metrics.json").stat().st_mtime_ns, (run / "output.log").read_text())
        for run in sweep_dir.glob("config_*")
        if status_of(sweep_dir, run.name[: len("config_001")]) == "completed"
    }
    assert 2 <= len(done) < 6
    return sweep_dir, done


def untouched(sweep_dir, done) -> None:
    for name, (mtime, log) in done.items():
        run = sweep_dir / name
        assert (run / "training_metrics.json").stat().st_mtime_ns == mtime, name
        assert (run / "output.log").read_text() == log, name
